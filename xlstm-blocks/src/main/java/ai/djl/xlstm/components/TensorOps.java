package ai.djl.xlstm.components;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Small element-wise functions that DJL's {@code NDArray} does not offer directly. */
public final class TensorOps {

    private TensorOps() {}

    /** {@code log(sigmoid(x)) = -softplus(-x)}, stable for large |x|. */
    public static NDArray logSigmoid(NDArray x) {
        return x.neg().getNDArrayInternal().softPlus().neg();
    }

    /** SiLU (swish with beta 1): {@code x * sigmoid(x)}. */
    public static NDArray silu(NDArray x) {
        return x.mul(x.getNDArrayInternal().sigmoid());
    }

    /** Soft cap {@code cap * tanh(x / cap)}; a cap {@code <= 0} disables it. */
    public static NDArray softCap(NDArray x, float cap) {
        if (cap <= 0) {
            return x;
        }
        return x.div(cap).tanh().mul(cap);
    }

    /**
     * Layer norm over the last axis: {@code (x - mean) / sqrt(var + eps) * gamma + beta}, with the
     * biased variance, as one native op (instead of seven element-wise ones: it matters when
     * decoding one token at a time).
     *
     * @param gamma the scale {@code [D]}, or null for ones
     * @param beta the shift {@code [D]}, or null for zeros
     */
    public static NDArray layerNormLastAxis(NDArray x, NDArray gamma, NDArray beta, float eps) {
        Shape s = x.getShape();
        Shape last = new Shape(s.get(s.dimension() - 1));
        NDManager m = x.getManager();
        NDArray g = gamma != null ? gamma : m.ones(last, x.getDataType(), x.getDevice());
        NDArray b = beta != null ? beta : m.zeros(last, x.getDataType(), x.getDevice());
        return x.getNDArrayInternal().layerNorm(x, last, g, b, eps).singletonOrThrow();
    }

    /** Divides by the root mean square over the last axis: {@code x / sqrt(mean(x^2) + eps)}. */
    public static NDArray rmsNormalizeLastAxis(NDArray x, float eps) {
        return x.div(x.square().mean(new int[] {-1}, true).add(eps).sqrt());
    }
}
