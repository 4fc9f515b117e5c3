package ai.djl.xlstm.components;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.xlstm.internal.TensorOps;

/**
 * Upstream {@code xlstm_large/components.py: RMSNorm}: {@code x / sqrt(mean(x^2) + eps) * w (+ b)},
 * with the reduction in float32. Shapes: {@code [..., D] -> [..., D]}.
 */
public class RmsNorm extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final float eps;
    private final Parameter weight;
    private final Parameter bias;

    /**
     * @param dim the feature dimension D
     * @param eps the epsilon inside the square root
     * @param useBias whether to add a learnable bias
     */
    public RmsNorm(long dim, float eps, boolean useBias) {
        super(VERSION);
        this.eps = eps;
        this.weight = addParameter("weight", Parameter.Type.GAMMA, new Shape(dim), Initializer.ONES);
        this.bias =
                useBias
                        ? addParameter("bias", Parameter.Type.BETA, new Shape(dim), Initializer.ZEROS)
                        : null;
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        DataType inType = x.getDataType();
        NDArray y = TensorOps.rmsNormalizeLastAxis(x.toType(DataType.FLOAT32, false), eps);
        y = y.toType(inType, false).mul(value(ps, weight, x, training));
        return bias == null ? y : y.add(value(ps, bias, x, training));
    }
}
