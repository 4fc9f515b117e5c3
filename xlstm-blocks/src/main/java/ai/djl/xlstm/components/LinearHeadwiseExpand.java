package ai.djl.xlstm.components;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;

/**
 * Upstream {@code components/linear_headwise.py: LinearHeadwiseExpand}: a block-diagonal linear map.
 * The features are split into NH heads and each head has its own {@code [DOUT, DIN]} matrix (the
 * weight is {@code [NH, DOUT, DIN]}), i.e. {@code einsum("...hd,hod->...ho")}. No bias, as upstream
 * uses it.
 *
 * <p>Shapes: {@code [..., NH * DIN] -> [..., NH * DOUT]}.
 */
public class LinearHeadwiseExpand extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final int numHeads;
    private final long inPerHead;
    private final Parameter weight;

    /**
     * @param inFeatures NH * DIN
     * @param numHeads NH
     * @param expandFactor DOUT / DIN (upstream default 1)
     * @param init the weight initialization
     */
    public LinearHeadwiseExpand(long inFeatures, int numHeads, int expandFactor, ai.djl.training.initializer.Initializer init) {
        super(VERSION);
        if (numHeads <= 0 || inFeatures % numHeads != 0) {
            throw new IllegalArgumentException(
                    "LinearHeadwiseExpand: in_features " + inFeatures
                            + " is not divisible by num_heads " + numHeads);
        }
        this.numHeads = numHeads;
        this.inPerHead = inFeatures / numHeads;
        long outPerHead = inPerHead * expandFactor;
        this.weight =
                addParameter(
                        "weight",
                        Parameter.Type.WEIGHT,
                        new Shape(numHeads, outPerHead, inPerHead),
                        init);
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        Shape s = x.getShape();
        Shape lead = s.slice(0, s.dimension() - 1);
        long n = lead.size();
        NDArray w = value(ps, weight, x, training); // [NH, DOUT, DIN]
        // One batched matmul per head over all positions: [NH, N, DIN] @ [NH, DIN, DOUT]. For one
        // position (decoding at batch 1) reshapes alone move the heads: two native calls fewer.
        NDArray heads = n == 1 ? x.reshape(numHeads, 1, inPerHead) : x.reshape(n, numHeads, inPerHead).transpose(1, 0, 2);
        NDArray y = heads.matMul(scoped(w.transpose(0, 2, 1), x)); // [NH, N, DOUT]
        return (n == 1 ? y : y.transpose(1, 0, 2)).reshape(lead.add(-1));
    }

    /** {@code [..., NH * DIN] -> [..., NH * DOUT]}. */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape in = inputShapes[0];
        return new Shape[] {in.slice(0, in.dimension() - 1).add(weight.getShape().get(0) * weight.getShape().get(1))};
    }
}
