package ai.djl.xlstm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.xlstm.components.AbstractXLstmBlock;
import ai.djl.xlstm.components.LinearHeadwiseExpand;
import ai.djl.xlstm.components.MultiHeadLayerNorm;

import org.junit.jupiter.api.Test;

/**
 * Decoding one position takes shortcuts (a reshape where the general path reshapes and
 * transposes); each gives what the general path gives for that position.
 */
class OnePositionTest {

    /** {@code block} on the first position of {@code two} alone equals that position of its output on both. */
    private static void check(AbstractXLstmBlock block, NDArray two, String firstIn, String firstOut, NDManager manager) {
        ParameterStore ps = new ParameterStore(manager, false);
        NDArray expected = block.forward(ps, two, false).get(firstOut);
        NDArray actual = block.forward(ps, two.get(firstIn), false);
        assertEquals(expected.getShape(), actual.getShape(), block.getClass().getSimpleName());
        assertArrayEquals(expected.toFloatArray(), actual.toFloatArray(), 1e-6f, block.getClass().getSimpleName());
    }

    @Test
    void headwiseProjectionOfOnePositionEqualsTheGeneralPath() {
        try (NDManager manager = NDManager.newBaseManager()) {
            manager.getEngine().setRandomSeed(3);
            LinearHeadwiseExpand block = new LinearHeadwiseExpand(12, 3, 2, new NormalInitializer(0.5f));
            Shape shape = new Shape(1, 2, 12); // [B, S, NH * DIN]
            block.initialize(manager, DataType.FLOAT32, shape);
            check(block, manager.randomNormal(shape), ":, 0:1, :", ":, 0:1, :", manager);
        }
    }

    @Test
    void multiHeadNormOfOnePositionEqualsTheGeneralPath() {
        try (NDManager manager = NDManager.newBaseManager()) {
            manager.getEngine().setRandomSeed(4);
            MultiHeadLayerNorm block = new MultiHeadLayerNorm(4, 32, 1e-5f, true, false);
            Shape shape = new Shape(2, 4, 2, 8); // [B, NH, S, DH]
            block.initialize(manager, DataType.FLOAT32, shape);
            block.getParameters().valueAt(0).getArray().intern(manager.randomNormal(new Shape(32)));
            // heads differ in scale, so that a head order mixed up in the shortcut shows
            NDArray x = manager.randomNormal(shape).mul(manager.arange(1f, 5f).reshape(1, 4, 1, 1));
            check(block, x, ":, :, 0:1, :", ":, 0:1, :", manager); // [B, S, NH * DH] out
        }
    }
}
