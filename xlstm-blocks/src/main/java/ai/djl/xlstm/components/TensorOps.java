package ai.djl.xlstm.components;

import ai.djl.ndarray.NDArray;

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
     * Normalizes over the last axis to zero mean and unit (biased) variance, without affine
     * parameters: {@code (x - mean) / sqrt(var + eps)}.
     */
    public static NDArray standardizeLastAxis(NDArray x, float eps) {
        NDArray centered = x.sub(x.mean(new int[] {-1}, true));
        NDArray variance = centered.square().mean(new int[] {-1}, true);
        return centered.div(variance.add(eps).sqrt());
    }

    /** Divides by the root mean square over the last axis: {@code x / sqrt(mean(x^2) + eps)}. */
    public static NDArray rmsNormalizeLastAxis(NDArray x, float eps) {
        return x.div(x.square().mean(new int[] {-1}, true).add(eps).sqrt());
    }
}
