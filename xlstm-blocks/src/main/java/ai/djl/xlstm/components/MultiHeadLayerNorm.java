package ai.djl.xlstm.components;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.xlstm.internal.TensorOps;

/**
 * Per-head normalization of the cell outputs, then the heads are merged.
 *
 * <p>Two upstream variants share this class:
 *
 * <ul>
 *   <li>NeurIPS ({@code components/ln.py: MultiHeadLayerNorm}, a group norm with one group per
 *       head): residual weight {@code (1 + w)}, eps {@code 1e-5}.
 *   <li>xLSTM Large ({@code xlstm_large/components.py: MultiHeadLayerNorm}): plain weight {@code w},
 *       optional bias, reduction in float32.
 * </ul>
 *
 * <p>Shapes: {@code [B, NH, S, DH] -> [B, S, NH * DH]}.
 */
public class MultiHeadLayerNorm extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final int numHeads;
    private final float eps;
    private final boolean residualWeight;
    private final Parameter weight;
    private final Parameter bias;

    /**
     * @param numHeads NH
     * @param dim NH * DH
     * @param eps the variance epsilon
     * @param residualWeight apply the weight as {@code 1 + w} (NeurIPS) instead of {@code w}
     * @param useBias whether to add a learnable bias
     */
    public MultiHeadLayerNorm(
            int numHeads, long dim, float eps, boolean residualWeight, boolean useBias) {
        super(VERSION);
        if (dim % numHeads != 0) {
            throw new IllegalArgumentException(
                    "MultiHeadLayerNorm: dim " + dim + " is not divisible by num_heads " + numHeads);
        }
        this.numHeads = numHeads;
        this.eps = eps;
        this.residualWeight = residualWeight;
        this.weight =
                addParameter(
                        "weight",
                        Parameter.Type.GAMMA,
                        new Shape(dim),
                        residualWeight ? Initializer.ZEROS : Initializer.ONES);
        this.bias =
                useBias
                        ? addParameter("bias", Parameter.Type.BETA, new Shape(dim), Initializer.ZEROS)
                        : null;
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        Shape s = x.getShape(); // [B, NH, S, DH]
        if (s.dimension() != 4 || s.get(1) != numHeads) {
            throw new IllegalArgumentException(
                    "MultiHeadLayerNorm expects [B, " + numHeads + ", S, DH], got " + s);
        }
        DataType inType = x.getDataType();
        NDArray y = TensorOps.layerNormLastAxis(x.toType(DataType.FLOAT32, false), null, null, eps);
        y = y.toType(inType, false);
        // [B, NH, S, DH] -> [B, S, NH * DH]; for one position (decode) the reshape alone does it
        y = s.get(2) == 1 ? y.reshape(s.get(0), 1, -1) : y.transpose(0, 2, 1, 3).reshape(s.get(0), s.get(2), -1);
        NDArray w = value(ps, weight, x, training);
        y = y.mul(residualWeight ? scoped(w.add(TensorOps.scalar(x, 1f)), x) : w); // [B, S, NH * DH]
        return bias == null ? y : y.add(value(ps, bias, x, training));
    }

    /** {@code [B, NH, S, DH] -> [B, S, NH * DH]}. */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape in = inputShapes[0];
        return new Shape[] {new Shape(in.get(0), in.get(2), in.get(1) * in.get(3))};
    }
}
