package ai.djl.xlstm.examples.formal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.xlstm.examples.formal.FormalLanguageEval.Accuracy;
import ai.djl.xlstm.examples.formal.FormalLanguageEval.LengthBucket;
import ai.djl.xlstm.examples.formal.FormalLanguageEval.Report;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** The evaluator on hand-made predictions. */
class FormalLanguageEvalTest {

    private static final long IGNORE = FormalExample.IGNORE;
    private static final int T = 256;

    /** Parity examples of lengths 10, 50, 100, 200 and 256: one per paper bucket, two in the last. */
    private static List<FormalExample> parityExamples() {
        Random random = new Random(1);
        List<FormalExample> list = new ArrayList<>();
        for (int length : new int[] {10, 50, 100, 200, 256}) {
            list.add(FormalTask.PARITY.generate(random, length, Supervision.DENSE));
        }
        return list;
    }

    /** Predictions equal to the labels (IGNORE replaced by PAD), padded to T. */
    private static long[][] perfect(List<FormalExample> examples, long pad) {
        long[][] out = new long[examples.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = examples.get(i).paddedLabels(T);
            for (int t = 0; t < T; t++) {
                out[i][t] = out[i][t] == IGNORE ? pad : out[i][t];
            }
        }
        return out;
    }

    @Test
    void perfectPredictionsScoreOne() {
        List<FormalExample> examples = parityExamples();
        Report report = FormalLanguageEval.evaluate(FormalTask.PARITY, perfect(examples, 4), examples);
        assertEquals(new Accuracy(5, 5), report.overall());
        assertEquals(1.0, report.overall().value());
        assertEquals(List.of(new Accuracy(1, 1), new Accuracy(1, 1), new Accuracy(1, 1), new Accuracy(2, 2)),
                List.copyOf(report.buckets().values()));
        assertEquals(FormalLanguageEval.PAPER_BUCKETS, List.copyOf(report.buckets().keySet()));
    }

    @Test
    void wrongPredictionsScoreZero() {
        List<FormalExample> examples = parityExamples();
        long[][] predictions = perfect(examples, 4);
        for (long[] row : predictions) {
            for (int t = 0; t < row.length; t++) {
                row[t] = row[t] == 2 ? 3 : 2; // flip every answer
            }
        }
        Report report = FormalLanguageEval.evaluate(FormalTask.PARITY, predictions, examples);
        assertEquals(new Accuracy(0, 5), report.overall());
        assertEquals(0.0, report.overall().value());
    }

    @Test
    void onlyLastPositionCountsForStateTracking() {
        List<FormalExample> examples = parityExamples();
        long[][] predictions = perfect(examples, 4);
        for (int i = 0; i < predictions.length; i++) {
            int last = examples.get(i).length() - 1;
            for (int t = 0; t < last; t++) {
                predictions[i][t] = 0; // wrong everywhere but the last position
            }
            if (i % 2 == 1) {
                predictions[i][last] = 5 - predictions[i][last]; // 2 <-> 3
            }
        }
        Report report = FormalLanguageEval.evaluate(FormalTask.PARITY, predictions, examples);
        assertEquals(new Accuracy(3, 5), report.overall());
        assertEquals(new Accuracy(0, 1), report.buckets().get(new LengthBucket(41, 64)));
        assertEquals(new Accuracy(1, 2), report.buckets().get(new LengthBucket(129, 256)));
    }

    @Test
    void mqarCountsEveryQueryAndCustomBuckets() {
        Random random = new Random(2);
        List<FormalExample> examples = List.of(
                FormalTask.MQAR.generate(random, 16, Supervision.DENSE), // 4 queries
                FormalTask.MQAR.generate(random, 40, Supervision.DENSE)); // 10 queries
        long[][] predictions = perfect(examples, 256);
        // break half of the queries of the second example
        int broken = 0;
        for (int t = 0; t < 40 && broken < 5; t++) {
            if (examples.get(1).labels()[t] != IGNORE) {
                predictions[1][t] = 0;
                broken++;
            }
        }
        List<LengthBucket> buckets = List.of(new LengthBucket(1, 20), new LengthBucket(21, 40),
                new LengthBucket(41, 99));
        Report report = FormalLanguageEval.evaluate(FormalTask.MQAR, predictions, examples, buckets);
        assertEquals(new Accuracy(9, 14), report.overall());
        assertEquals(new Accuracy(4, 4), report.buckets().get(buckets.get(0)));
        assertEquals(new Accuracy(5, 10), report.buckets().get(buckets.get(1)));
        assertEquals(0.5, report.buckets().get(buckets.get(1)).value());
        assertEquals(new Accuracy(0, 0), report.buckets().get(buckets.get(2)));
        assertTrue(Double.isNaN(report.buckets().get(buckets.get(2)).value()));
    }

    @Test
    void rejectsMismatchedInputs() {
        List<FormalExample> examples = parityExamples();
        assertThrows(IllegalArgumentException.class,
                () -> FormalLanguageEval.evaluate(FormalTask.PARITY, new long[4][T], examples));
        assertThrows(IllegalArgumentException.class,
                () -> FormalLanguageEval.evaluate(FormalTask.PARITY, new long[5][20], examples));
        FormalExample unlabeled = new FormalExample(new long[] {0, 1}, new long[] {2, IGNORE});
        assertThrows(IllegalArgumentException.class,
                () -> FormalLanguageEval.evaluate(FormalTask.PARITY, new long[1][2], List.of(unlabeled)));
    }
}
