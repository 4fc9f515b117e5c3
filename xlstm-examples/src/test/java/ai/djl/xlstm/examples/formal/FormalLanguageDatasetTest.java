package ai.djl.xlstm.examples.formal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Record;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

/** Records, padding and batching of {@link FormalLanguageDataset} through DJL. */
class FormalLanguageDatasetTest {

    private static FormalLanguageDataset dataset(FormalTask task, int min, int max, long seed) {
        return FormalLanguageDataset.builder()
                .setTask(task)
                .optLengthRange(min, max)
                .setNumExamples(12)
                .optSeed(seed)
                .setSampling(4, true)
                .build();
    }

    @Test
    void recordsArePaddedInt64() throws Exception {
        FormalLanguageDataset data = dataset(FormalTask.CYCLE_NAVIGATION, 1, 40, 1);
        assertEquals(12, data.size());
        assertEquals(40, data.sequenceLength());
        try (NDManager manager = NDManager.newBaseManager()) {
            for (int i = 0; i < data.size(); i++) {
                Record record = data.get(manager, i);
                NDArray tokens = record.getData().singletonOrThrow();
                NDArray labels = record.getLabels().singletonOrThrow();
                assertEquals(new Shape(40), tokens.getShape());
                assertEquals(new Shape(40), labels.getShape());
                assertEquals(DataType.INT64, tokens.getDataType());
                assertEquals(DataType.INT64, labels.getDataType());
                FormalExample e = data.examples().get(i);
                int n = data.trueLength(i);
                assertTrue(n >= 1 && n <= 40);
                long[] t = tokens.toLongArray();
                long[] l = labels.toLongArray();
                for (int p = 0; p < 40; p++) {
                    assertEquals(p < n ? e.tokens()[p] : FormalTask.CYCLE_NAVIGATION.padToken(), t[p]);
                    assertEquals(p < n ? e.labels()[p] : FormalExample.IGNORE, l[p]);
                }
            }
            int batches = 0;
            for (Batch batch : data.getData(manager)) {
                assertEquals(new Shape(4, 40), batch.getData().singletonOrThrow().getShape());
                assertEquals(new Shape(4, 40), batch.getLabels().singletonOrThrow().getShape());
                batches++;
                batch.close();
            }
            assertEquals(3, batches);
        }
    }

    @Test
    void deterministicForSeedAndRespectsLengthRange() {
        FormalLanguageDataset a = dataset(FormalTask.MODULAR_ARITHMETIC, 41, 256, 9);
        FormalLanguageDataset b = dataset(FormalTask.MODULAR_ARITHMETIC, 41, 256, 9);
        assertEquals(a.examples(), b.examples());
        assertEquals(256, a.sequenceLength());
        for (FormalExample e : a.examples()) {
            assertTrue(e.length() >= 41 && e.length() <= 255 && e.length() % 2 == 1);
        }
    }

    @Test
    void mqarClampsShortLengths() {
        FormalLanguageDataset data = dataset(FormalTask.MQAR, 1, 3, 2);
        assertEquals(4, data.sequenceLength());
        for (int i = 0; i < data.size(); i++) {
            assertEquals(4, data.trueLength(i));
        }
    }

    @Test
    void lastSupervisionLabelsOnlyFinalPosition() {
        FormalLanguageDataset data = FormalLanguageDataset.builder()
                .setTask(FormalTask.PARITY)
                .optSupervision(Supervision.LAST)
                .setNumExamples(5)
                .setSampling(5, false)
                .build();
        for (FormalExample e : data.examples()) {
            long[] expected = new long[e.length()];
            Arrays.fill(expected, FormalExample.IGNORE);
            expected[e.length() - 1] = e.labels()[e.length() - 1];
            assertArrayEquals(expected, e.labels());
        }
    }

    @Test
    void builderValidates() {
        assertThrows(NullPointerException.class,
                () -> FormalLanguageDataset.builder().setNumExamples(1).setSampling(1, false).build());
        assertThrows(IllegalArgumentException.class, () -> FormalLanguageDataset.builder()
                .setTask(FormalTask.PARITY).optLengthRange(5, 4).setNumExamples(1).setSampling(1, false).build());
        assertThrows(IllegalArgumentException.class, () -> FormalLanguageDataset.builder()
                .setTask(FormalTask.PARITY).setSampling(1, false).build());
    }
}
