package ai.djl.xlstm.components;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The causal convolution computes the same output and window whether it runs as libtorch's
 * depthwise convolution (inference) or as K shifted products (while a gradient is recorded), from
 * a zero and from a given window.
 */
class CausalConvPathsTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void theTrainingPathEqualsTheConvolution(int kernel) {
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalConv1d conv = new CausalConv1d(6, kernel);
            Shape in = new Shape(3, 9, 6);
            conv.initialize(manager, DataType.FLOAT32, in);
            conv.getParameters().get("conv.bias").getArray().set(manager.randomNormal(new Shape(6)).toFloatArray());
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray x = manager.randomNormal(in);
            for (NDArray window : new NDArray[] {null, kernel > 1 ? manager.randomNormal(new Shape(3, kernel - 1, 6)) : null}) {
                Pair<NDArray, NDArray> plain = conv.forward(ps, x, window, false);
                Pair<NDArray, NDArray> recorded;
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    recorded = conv.forward(ps, x, window, true);
                }
                assertEquals(plain.getKey().getShape(), recorded.getKey().getShape());
                float diff = plain.getKey().sub(recorded.getKey()).abs().max().getFloat();
                assertTrue(diff < 1e-5f, "max |diff| " + diff);
                if (kernel > 1) {
                    assertEquals(0f, plain.getValue().sub(recorded.getValue()).abs().max().getFloat());
                }
            }
        }
    }
}
