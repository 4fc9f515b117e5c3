package ai.djl.xlstm.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;

/**
 * Upstream's parameter initializations ({@code components/init.py} and the blocks'
 * {@code reset_parameters}), used when a model is trained from scratch. Loaded checkpoints
 * overwrite them.
 */
public final class Inits {

    private Inits() {}

    /**
     * {@code small_init}: normal with std {@code sqrt(2 / (5 * dim))} (Nguyen and Salazar).
     *
     * @param dim the model dimension
     * @return the initializer
     */
    public static Initializer small(long dim) {
        return new NormalInitializer((float) Math.sqrt(2.0 / (5.0 * dim)));
    }

    /**
     * {@code wang_init}: normal with std {@code 2 / numBlocks / sqrt(dim)}, for output projections.
     *
     * @param dim the model dimension
     * @param numBlocks the number of blocks
     * @return the initializer
     */
    public static Initializer wang(long dim, int numBlocks) {
        return new NormalInitializer((float) (2.0 / Math.max(1, numBlocks) / Math.sqrt(dim)));
    }

    /**
     * A constant value (xLSTM Large's input gate bias: -10).
     *
     * @param value the value
     * @return the initializer
     */
    public static Initializer constant(float value) {
        return (manager, shape, dataType) -> manager.full(shape, value, dataType);
    }

    /**
     * Evenly spaced values from {@code start} to {@code end} (the mLSTM forget gate bias: 3 to 6).
     *
     * @param start the first value
     * @param end the last value
     * @return the initializer
     */
    public static Initializer linspace(float start, float end) {
        return (manager, shape, dataType) -> {
            long n = shape.size();
            return manager.linspace(start, end, (int) n).reshape(shape).toType(dataType, false);
        };
    }

    /**
     * The sLSTM bias {@code powerlaw_blockdependent}: zero for the i, z, o gates; for the forget
     * gate, per head, {@code -(-5 + 12 * (d / (DH - 1))^(0.3 + 1.3 * r))} with {@code r =
     * blockIndex / (numBlocks - 1)}, so that deeper blocks start with longer memory. Layout (head,
     * gate, dim).
     *
     * @param numHeads the number of heads
     * @param headDim DH
     * @param blockIndex the block's index
     * @param numBlocks the number of blocks
     * @return the initializer
     */
    public static Initializer slstmBias(int numHeads, int headDim, int blockIndex, int numBlocks) {
        return (manager, shape, dataType) -> {
            double ratio = numBlocks > 1 ? blockIndex / (double) (numBlocks - 1) : 0.0;
            float[] values = new float[numHeads * 4 * headDim];
            for (int h = 0; h < numHeads; h++) {
                for (int d = 0; d < headDim; d++) {
                    double x = headDim > 1 ? d / (double) (headDim - 1) : 0.0;
                    values[(h * 4 + 1) * headDim + d] = (float) -(-5.0 + 12.0 * Math.pow(x, 0.3 + 1.3 * ratio));
                }
            }
            NDArray bias = TensorOps.owned(manager, values).reshape(shape);
            return bias.toType(dataType == null ? DataType.FLOAT32 : dataType, false);
        };
    }
}
