package ai.djl.xlstm.internal.decode;

/**
 * The element-wise functions of a decode step, written to follow libtorch's float32 definitions
 * (log-sigmoid as {@code -softplus(-x)} with softplus's threshold 20, GELU with the exact erf).
 */
final class Elementwise {

    private static final double SQRT_HALF = Math.sqrt(0.5);
    private static final double SELU_SCALE = 1.0507009873554804934193349852946;
    private static final double SELU_ALPHA = 1.6732632423543772848170429916717;

    private Elementwise() {}

    /**
     * Layer norm of {@code x[off, off + n)} without affine terms, times {@code gamma[gOff + i]}
     * when gamma is not null, into {@code out[outOff, outOff + n)}; biased variance as libtorch.
     */
    static void layerNorm(float[] x, int off, int n, float eps, float[] gamma, int gOff, float[] out, int outOff) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += x[off + i];
        }
        double mean = sum / n;
        double var = 0;
        for (int i = 0; i < n; i++) {
            double d = x[off + i] - mean;
            var += d * d;
        }
        double rstd = 1.0 / Math.sqrt(var / n + eps);
        for (int i = 0; i < n; i++) {
            float y = (float) ((x[off + i] - mean) * rstd);
            out[outOff + i] = gamma == null ? y : y * gamma[gOff + i];
        }
    }

    /**
     * RMS norm of {@code x[off, off + n)}: {@code x / sqrt(mean(x^2) + eps) * w (+ b)} into
     * {@code out[0, n)} ({@code RmsNorm}; b may be null).
     */
    static void rmsNorm(float[] x, int off, int n, float eps, float[] w, float[] b, float[] out) {
        double sq = 0;
        for (int i = 0; i < n; i++) {
            double xi = x[off + i];
            sq += xi * xi;
        }
        float rms = (float) Math.sqrt((float) (sq / n) + eps);
        for (int i = 0; i < n; i++) {
            float y = x[off + i] / rms * w[i];
            out[i] = b == null ? y : y + b[i];
        }
    }

    /**
     * One position of a causal depthwise conv1d ({@code CausalConv1d}, kernel {@code K > 0}) and
     * SiLU over {@code width} channels: {@code out[i] = silu(b[i] + sum_{k < K-1} window[k, i] w[k,
     * i] + in[i] w[K-1, i])} with {@code w [K, width]}; then the window {@code [K - 1, width]} moves
     * on by one position ({@code in} becomes its last row).
     */
    static void causalConvSilu(float[] window, float[] w, float[] b, int kernel, int width, float[] in,
            float[] out) {
        int last = (kernel - 1) * width;
        for (int i = 0; i < width; i++) {
            float acc = 0;
            for (int k = 0; k < kernel - 1; k++) {
                acc += window[k * width + i] * w[k * width + i];
            }
            acc += in[i] * w[last + i];
            out[i] = silu(acc + b[i]);
        }
        if (kernel > 1) {
            System.arraycopy(window, width, window, 0, (kernel - 2) * width);
            System.arraycopy(in, 0, window, (kernel - 2) * width, width);
        }
    }

    /** {@code cap * tanh(x / cap)}, or x where cap is not positive ({@code TensorOps.softCap}). */
    static float softCap(float x, float cap) {
        return cap <= 0 ? x : tanh(x / cap) * cap;
    }

    /** {@code log(sigmoid(x)) = -softplus(-x)}, softplus linear above 20 as in libtorch. */
    static float logSigmoid(float x) {
        return -x > 20f ? x : (float) -log1p(Math.exp(-x));
    }

    /**
     * {@code log(1 + u)} for {@code u >= 0} from the intrinsic {@link Math#log} (StrictMath's
     * {@code log1p} is several times slower): a cubic series below {@code 1e-4}, where it is exact
     * to double round-off, and {@code log(1 + u)} above, where {@code 1 + u} loses under 1e-12.
     */
    static double log1p(double u) {
        return u < 1e-4 ? u * (1 - u * (0.5 - u / 3)) : Math.log(1 + u);
    }

    /**
     * {@code tanh(x)} from one intrinsic {@link Math#exp} (StrictMath's {@code tanh} is several
     * times slower): {@code sign(x) (1 - e) / (1 + e)} with {@code e = exp(-2|x|)}, in double, so
     * float32 results agree with libtorch's to float round-off.
     */
    static float tanh(float x) {
        double e = Math.exp(-2.0 * Math.abs(x));
        double t = (1 - e) / (1 + e);
        return (float) (x < 0 ? -t : t);
    }

    static float sigmoid(float x) {
        return (float) (1.0 / (1.0 + Math.exp(-x)));
    }

    static float silu(float x) {
        return x * sigmoid(x);
    }

    static float exp(float x) {
        return (float) Math.exp(x);
    }

    /** The feed-forward activation {@code act} of a {@code FeedForwardConfig}. */
    static float activate(Activation act, float x) {
        switch (act) {
            case GELU:
                return (float) (0.5 * x * (1.0 + erf(x * SQRT_HALF)));
            case RELU:
                return Math.max(x, 0f);
            case RELU_SQUARED:
                float r = Math.max(x, 0f);
                return r * r;
            case SIGMOID:
                return sigmoid(x);
            case SILU:
                return silu(x);
            case SELU:
                return (float) (SELU_SCALE * (x > 0 ? x : SELU_ALPHA * Math.expm1(x)));
            default:
                throw new IllegalStateException("unreachable: " + act);
        }
    }

    /**
     * The error function, from the Chebyshev fit of erfc in Numerical Recipes (fractional error
     * below 1.2e-7, float32's resolution).
     */
    static double erf(double z) {
        double t = 1.0 / (1.0 + 0.5 * Math.abs(z));
        double erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return z >= 0 ? 1.0 - erfc : erfc - 1.0;
    }

    /** The activations a {@code FeedForwardConfig} names. */
    enum Activation {
        GELU, RELU, RELU_SQUARED, SIGMOID, SILU, SELU;

        static Activation of(String name) {
            switch (name) {
                case "gelu":
                    return GELU;
                case "relu":
                    return RELU;
                case "relu^2":
                    return RELU_SQUARED;
                case "sigmoid":
                    return SIGMOID;
                case "swish":
                case "silu":
                    return SILU;
                case "selu":
                    return SELU;
                default:
                    throw new IllegalArgumentException("feed-forward act_fn '" + name + "' has no CPU decode step");
            }
        }
    }
}
