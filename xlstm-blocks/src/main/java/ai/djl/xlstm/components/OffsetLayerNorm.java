package ai.djl.xlstm.components;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.xlstm.internal.TensorOps;

/**
 * Upstream {@code components/ln.py: LayerNorm}: layer norm over the last axis, no bias, and a
 * residual weight applied as {@code (1 + w)} so that a zero-initialized weight is the identity.
 *
 * <p>Unlike DJL's {@code LayerNorm}, which normalizes over all non-batch axes by default, this
 * normalizes over the feature axis only. Shapes: {@code [..., D] -> [..., D]}.
 */
public class OffsetLayerNorm extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final float eps;
    private final Parameter weight;

    /**
     * @param dim the feature dimension D
     * @param eps the variance epsilon (upstream default {@code 1e-5})
     */
    public OffsetLayerNorm(long dim, float eps) {
        super(VERSION);
        this.eps = eps;
        this.weight = addParameter("weight", Parameter.Type.GAMMA, new Shape(dim), Initializer.ZEROS);
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        NDArray w = value(ps, weight, x, training);
        return TensorOps.layerNormLastAxis(x, scoped(w.add(TensorOps.scalar(x, 1f)), x), null, eps);
    }
}
