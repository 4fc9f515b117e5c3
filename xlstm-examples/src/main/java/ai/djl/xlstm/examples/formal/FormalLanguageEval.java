package ai.djl.xlstm.examples.formal;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Accuracy of predicted token ids on formal-language examples, as each task defines it: for the
 * state-tracking tasks one prediction per example, at its last true position; for MQAR every
 * labelled (query) position. Reported overall and per bucket of true lengths.
 */
public final class FormalLanguageEval {

    /** The paper's split: the training range 1-40, then 41-64, 65-128 and 129-256. */
    public static final List<LengthBucket> PAPER_BUCKETS = List.of(
            new LengthBucket(1, 40), new LengthBucket(41, 64),
            new LengthBucket(65, 128), new LengthBucket(129, 256));

    private FormalLanguageEval() {}

    /** An inclusive range of true example lengths. */
    public record LengthBucket(int minLength, int maxLength) {

        /** Checks {@code minLength <= maxLength}. */
        public LengthBucket {
            if (minLength > maxLength) {
                throw new IllegalArgumentException("empty bucket " + minLength + "-" + maxLength);
            }
        }

        /** Whether a length falls in the bucket. */
        public boolean contains(int length) {
            return length >= minLength && length <= maxLength;
        }

        @Override
        public String toString() {
            return minLength + "-" + maxLength;
        }
    }

    /** Correct predictions out of scored ones. */
    public record Accuracy(long correct, long total) {

        /** {@code correct / total}, or NaN when nothing was scored. */
        public double value() {
            return total == 0 ? Double.NaN : (double) correct / total;
        }

        @Override
        public String toString() {
            return String.format("%d/%d (%.4f)", correct, total, value());
        }
    }

    /**
     * The overall accuracy and one per bucket, in the order the buckets were given (examples whose
     * length falls in no bucket count only overall).
     */
    public record Report(Accuracy overall, Map<LengthBucket, Accuracy> buckets) {}

    /** {@link #evaluate(FormalTask, long[][], List, List)} with {@link #PAPER_BUCKETS}. */
    public static Report evaluate(FormalTask task, long[][] predictions, List<FormalExample> examples) {
        return evaluate(task, predictions, examples, PAPER_BUCKETS);
    }

    /**
     * Scores {@code predictions[i][t]} (e.g. the argmax token at position {@code t} of example
     * {@code i}; rows may be padded beyond the true length) against the labels of
     * {@code examples.get(i)}.
     *
     * @throws IllegalArgumentException if the counts differ, a row is shorter than its example, or
     *     a state-tracking example has no label at its last position
     */
    public static Report evaluate(FormalTask task, long[][] predictions, List<FormalExample> examples,
            List<LengthBucket> buckets) {
        if (predictions.length != examples.size()) {
            throw new IllegalArgumentException(
                    predictions.length + " prediction rows for " + examples.size() + " examples");
        }
        long[] correct = new long[buckets.size() + 1]; // last slot: overall
        long[] total = new long[buckets.size() + 1];
        for (int i = 0; i < predictions.length; i++) {
            FormalExample example = examples.get(i);
            int length = example.length();
            if (predictions[i].length < length) {
                throw new IllegalArgumentException("prediction row " + i + " has " + predictions[i].length
                        + " positions, example has " + length);
            }
            long[] labels = example.labels();
            int hits = 0;
            int scored = 0;
            int from = 0;
            if (task.evaluatesLastPosition()) {
                from = length - 1;
                if (labels[from] == FormalExample.IGNORE) {
                    throw new IllegalArgumentException("example " + i + " has no label at its last position");
                }
            }
            for (int t = from; t < length; t++) {
                if (labels[t] != FormalExample.IGNORE) {
                    scored++;
                    hits += predictions[i][t] == labels[t] ? 1 : 0;
                }
            }
            for (int b = 0; b <= buckets.size(); b++) {
                if (b == buckets.size() || buckets.get(b).contains(length)) {
                    correct[b] += hits;
                    total[b] += scored;
                }
            }
        }
        Map<LengthBucket, Accuracy> perBucket = new LinkedHashMap<>();
        for (int b = 0; b < buckets.size(); b++) {
            perBucket.put(buckets.get(b), new Accuracy(correct[b], total[b]));
        }
        return new Report(new Accuracy(correct[buckets.size()], total[buckets.size()]),
                Collections.unmodifiableMap(perBucket));
    }
}
