package ai.djl.xlstm.slstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.xlstm.state.SLstmCellState;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The sLSTM recurrence on the Java heap ({@code SLstmCell.forwardOnHeap}, used when no gradient is
 * recorded) computes what the libtorch recurrence computes: hidden states of every position and
 * the final state, from the zero state and from a random one, across heap spans.
 */
class SLstmScanParityTest {

    @ParameterizedTest
    @CsvSource({"1, 1, 4, 8", "3, 7, 2, 16", "2, 1100, 4, 8", "1, 513, 1, 32"})
    void theHeapRecurrenceEqualsLibtorch(int batch, int len, int heads, int headDim) {
        try (NDManager manager = NDManager.newBaseManager()) {
            manager.getEngine().setRandomSeed(7 + len);
            long hidden = (long) heads * headDim;
            SLstmCell cell = new SLstmCell(hidden, heads, 0, 1);
            cell.initialize(manager, DataType.FLOAT32, new Shape(batch, len, 4 * hidden));
            // a recurrent kernel of a trained size (the init is zero), so the recurrence matters
            NDArray r = manager.randomNormal(0, 0.3f, new Shape(heads, headDim, 4L * headDim), DataType.FLOAT32);
            NDArray pre = manager.randomNormal(0, 2f, new Shape(batch, heads, len, 4L * headDim), DataType.FLOAT32);
            for (boolean zero : new boolean[] {true, false}) {
                SLstmCellState start = zero ? cell.zeroState(manager, manager.getDevice(), batch) : randomState(manager,
                        new Shape(batch, heads, 1, headDim));
                Pair<NDArray, SLstmCellState> heap = cell.forwardOnHeap(pre, r, start);
                Pair<NDArray, SLstmCellState> lib = cell.forwardNative(pre, r, start);
                assertEquals(lib.getKey().getShape(), heap.getKey().getShape());
                assertClose("y of every position", lib.getKey(), heap.getKey(), 2e-5f);
                NDList a = new NDList(lib.getValue().tensors());
                NDList b = new NDList(heap.getValue().tensors());
                String[] names = {"y", "c", "n", "m"};
                for (int i = 0; i < 4; i++) {
                    assertEquals(a.get(i).getShape(), b.get(i).getShape(), names[i]);
                    assertClose("final " + names[i], a.get(i), b.get(i), 2e-5f);
                }
            }
        }
    }

    @Test
    void onlyAnInferencePassWithoutGradientsRunsOnTheHeap() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray pre = manager.zeros(new Shape(1, 1, 3, 8));
            boolean gradMode = ai.djl.pytorch.jni.JniUtils.isGradMode();
            ai.djl.pytorch.jni.JniUtils.setGradMode(false);
            try {
                assertTrue(SLstmCell.onHeap(pre), "no gradients recorded: heap");
                assertFalse(SLstmCell.onHeap(pre.toType(DataType.FLOAT64, false)), "float64 stays on libtorch");
            } finally {
                ai.djl.pytorch.jni.JniUtils.setGradMode(gradMode);
            }
            try (GradientCollector ignored = Engine.getInstance().newGradientCollector()) {
                assertFalse(SLstmCell.onHeap(pre), "inside a gradient collector: libtorch");
            }
        }
    }

    @Test
    void aTrainingForwardStillBackPropagatesThroughTheRecurrence() {
        try (NDManager manager = NDManager.newBaseManager()) {
            SLstmCell cell = new SLstmCell(16, 2, 0, 1);
            Shape input = new Shape(1, 5, 64);
            cell.initialize(manager, DataType.FLOAT32, input);
            NDArray x = manager.randomNormal(input);
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray y = cell.forward(new ParameterStore(manager, false), x, true);
                gc.backward(y.sum());
            }
            assertTrue(x.getGradient().abs().sum().getFloat() > 0, "gradient reached the input");
        }
    }

    private static SLstmCellState randomState(NDManager manager, Shape shape) {
        return new SLstmCellState(
                manager.randomNormal(shape),
                manager.randomNormal(shape),
                manager.randomUniform(0.5f, 2f, shape),
                manager.randomNormal(shape));
    }

    private static void assertClose(String what, NDArray expected, NDArray actual, float tol) {
        float diff = expected.sub(actual).abs().max().getFloat();
        float scale = Math.max(1f, expected.abs().max().getFloat());
        assertTrue(diff <= tol * scale, what + ": max |diff| " + diff + " over scale " + scale);
    }
}
