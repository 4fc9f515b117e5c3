package ai.djl.xlstm.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.util.Pair;
import ai.djl.xlstm.state.MLstmCellState;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The chunkwise form in closed form over its chunks equals the recurrent form (one step per
 * position), also when a sequence is cut into several spans, from a non-zero memory, with a short
 * last chunk; with and without a gradient being recorded.
 */
class ChunkwiseSpansTest {

    @ParameterizedTest
    @CsvSource({
        "1, 2, 100, 16, 8, 8, 1000, false",
        "2, 3, 77, 8, 4, 6, 2, false",
        "1, 2, 130, 16, 8, 8, 1, false",
        "2, 2, 45, 8, 6, 4, 2, true"
    })
    void spansAndChunksEqualTheRecurrentForm(
            int batch, int heads, int len, int chunk, int dqk, int dv, int chunksPerSpan, boolean gradient) {
        try (NDManager manager = NDManager.newBaseManager()) {
            manager.getEngine().setRandomSeed(len);
            NDArray q = manager.randomNormal(new Shape(batch, heads, len, dqk));
            NDArray k = manager.randomNormal(new Shape(batch, heads, len, dqk)).div(Math.sqrt(dqk));
            NDArray v = manager.randomNormal(new Shape(batch, heads, len, dv));
            NDArray i = manager.randomNormal(0, 3, new Shape(batch, heads, len), q.getDataType());
            NDArray f = manager.randomNormal(2, 2, new Shape(batch, heads, len), q.getDataType());
            MLstmCellState start = new MLstmCellState(
                    manager.randomNormal(new Shape(batch, heads, dqk, dv)),
                    manager.randomUniform(0.5f, 1.5f, new Shape(batch, heads, dqk)),
                    manager.randomNormal(new Shape(batch, heads, 1)));
            Pair<NDArray, MLstmCellState> expected = MLstmKernels.recurrent(q, k, v, i, f, start, 1e-6f);
            Pair<NDArray, MLstmCellState> actual;
            if (gradient) {
                q.setRequiresGradient(true);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    actual = MLstmKernels.chunkwise(q, k, v, i, f, start, chunk, 1e-6f, chunksPerSpan);
                    gc.backward(actual.getKey().sum());
                }
                assertTrue(Float.isFinite(q.getGradient().sum().getFloat()), "finite gradient");
            } else {
                actual = MLstmKernels.chunkwise(q, k, v, i, f, start, chunk, 1e-6f, chunksPerSpan);
            }
            assertEquals(expected.getKey().getShape(), actual.getKey().getShape());
            assertClose("h", expected.getKey(), actual.getKey());
            // C and n are stored scaled by exp(-m): compare the unscaled memory
            MLstmCellState e = expected.getValue();
            MLstmCellState a = actual.getValue();
            assertClose("C", e.c().mul(e.m().expandDims(3).exp()), a.c().mul(a.m().expandDims(3).exp()));
            assertClose("n", e.n().mul(e.m().exp()), a.n().mul(a.m().exp()));
        }
    }

    private static void assertClose(String what, NDArray expected, NDArray actual) {
        float diff = expected.sub(actual).abs().max().getFloat();
        float scale = Math.max(1f, expected.abs().max().getFloat());
        assertTrue(diff <= 2e-4f * scale, what + ": max |diff| " + diff + " at scale " + scale);
    }
}
