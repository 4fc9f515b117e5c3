package ai.djl.xlstm.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Small element-wise functions that DJL's {@code NDArray} does not offer directly. */
public final class TensorOps {

    private static final Shape SCALAR = new Shape();

    private TensorOps() {}

    /**
     * The constant {@code value} as a 0-d tensor ({@code []}) of {@code like}'s data type and
     * device, attached to {@code like}'s manager: the operand of every element-wise op with a
     * constant in the model ({@code x.div(scalar(x, c))}, never {@code x.div(c)}).
     *
     * <p>Why: DJL's PyTorch engine turns a {@code Number} operand ({@code mul(Number)}, {@code
     * div(Number)}, {@code add(Number)}, ...) into a tensor over a Java direct buffer (torch
     * {@code from_blob}: the memory stays Java's) and closes it right after the op. Autograd keeps
     * that tensor for the backward pass (mul, div, pow, maximum, minimum, clip read it there), but
     * not the buffer: a garbage collection between forward and backward may free and reuse the
     * memory, and backward then reads garbage (gradients off by orders of magnitude, or NaN).
     * {@code full} allocates natively ({@code torch::full}): PyTorch owns and reference-counts the
     * memory, which lives as long as the graph holds the tensor. We use it for add and sub too,
     * whose backward does not read the constant: one rule, easy to check, and no direct-buffer
     * allocation per op. Cost: one tensor and one op, as with a {@code Number} operand (measured a
     * little cheaper: no Java buffer); the tensor is freed with {@code like}'s manager. In a
     * float32 model the results are bit-identical to the {@code Number} overloads', whose operand
     * is a float32 0-d tensor too; a 0-d operand leaves the result's shape and type {@code x}'s.
     *
     * @param like the array whose manager, type and device the constant takes
     * @param value the value
     * @return a 0-d array
     */
    public static NDArray scalar(NDArray like, float value) {
        return like.getManager().full(SCALAR, value, like.getDataType(), like.getDevice());
    }

    /**
     * Whether autograd may record operations on this thread now: libtorch's grad mode, which is per
     * thread (DJL turns it off for a predictor and on under a gradient collector); true on another
     * engine. {@code NDArray.hasGradient()} cannot tell: it is false for an intermediate result that
     * is part of a graph.
     *
     * @param manager a manager of the engine in use
     * @return whether operations may be recorded for a backward pass
     */
    public static boolean gradMode(NDManager manager) {
        return !"PyTorch".equals(manager.getEngine().getEngineName())
                || ai.djl.pytorch.jni.JniUtils.isGradMode();
    }

    /**
     * Turns libtorch's grad mode off on this thread until the returned scope closes, which restores
     * it. libtorch's grad mode is per thread and on by default: only the thread that started the
     * engine has it off, so every other thread (a DJL Serving worker, an application's pool) would
     * otherwise run inference as if gradients were wanted, without the memory bounds of inference.
     * A no-op where it is already off, and on another engine.
     *
     * @param manager a manager of the engine in use
     * @return the scope to close
     */
    public static NoGradient noGradient(NDManager manager) {
        if (!"PyTorch".equals(manager.getEngine().getEngineName())
                || !ai.djl.pytorch.jni.JniUtils.isGradMode()) {
            return () -> {};
        }
        ai.djl.pytorch.jni.JniUtils.setGradMode(false);
        return () -> ai.djl.pytorch.jni.JniUtils.setGradMode(true);
    }

    /** DJL's PyTorch "a gradient collector is open" flag (global), or null if it cannot be read. */
    private static final java.util.concurrent.atomic.AtomicBoolean COLLECTING = collectingFlag();

    private static java.util.concurrent.atomic.AtomicBoolean collectingFlag() {
        try {
            java.lang.reflect.Field f =
                    Class.forName("ai.djl.pytorch.engine.PtGradientCollector").getDeclaredField("isCollecting");
            f.setAccessible(true);
            return (java.util.concurrent.atomic.AtomicBoolean) f.get(null);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return null;
        }
    }

    /**
     * Whether a DJL gradient collector may be open (on any thread): the only way a DJL user can
     * back-propagate, so without one nothing recorded would ever be used. True when that cannot be
     * known (another engine, or a DJL whose collector no longer has the flag read here).
     *
     * @param manager a manager of the engine in use
     * @return false only when no gradient collector is open
     */
    public static boolean mayCollectGradients(NDManager manager) {
        return !"PyTorch".equals(manager.getEngine().getEngineName()) || COLLECTING == null || COLLECTING.get();
    }

    /** A scope of {@link #noGradient}: closing it restores the grad mode. */
    @FunctionalInterface
    public interface NoGradient extends AutoCloseable {
        /** Restores the grad mode of before the scope. */
        @Override
        void close();
    }

    /**
     * A libtorch-owned copy of {@code data} as a 1-d INT64 tensor {@code [n]} in {@code manager}:
     * the way Java data (tokens, labels, masks) becomes a tensor that may enter an autograd graph.
     *
     * <p>Why: {@code manager.create(long[])} copies the array into a Java direct buffer and wraps
     * that buffer ({@code from_blob}); the tensor's memory stays Java's and lives only as long as
     * that one NDArray is open and reachable. A view of it ({@code reshape}, {@code get}) or a
     * graph node that keeps it for the backward pass (embedding and gather keep their indices)
     * would read freed memory after a garbage collection. {@code duplicate} copies into memory
     * that PyTorch allocates and reference-counts; the borrowing array is closed at once.
     */
    public static NDArray owned(NDManager manager, long[] data) {
        try (NDArray borrowed = manager.create(data)) {
            return borrowed.duplicate();
        }
    }

    /** As {@link #owned(NDManager, long[])}, for FLOAT32 data {@code [n]}. */
    public static NDArray owned(NDManager manager, float[] data) {
        try (NDArray borrowed = manager.create(data)) {
            return borrowed.duplicate();
        }
    }

    /**
     * {@code log(sigmoid(x)) = -softplus(-x)}, stable for large |x|.
     *
     * @param x the input
     * @return {@code log(sigmoid(x))}
     */
    public static NDArray logSigmoid(NDArray x) {
        return x.neg().getNDArrayInternal().softPlus().neg();
    }

    /**
     * SiLU (swish with beta 1): {@code x * sigmoid(x)}.
     *
     * @param x the input
     * @return {@code x * sigmoid(x)}
     */
    public static NDArray silu(NDArray x) {
        return x.mul(x.getNDArrayInternal().sigmoid());
    }

    /**
     * Soft cap {@code cap * tanh(x / cap)}; a cap {@code <= 0} disables it.
     *
     * @param x the input
     * @param cap the cap
     * @return the capped values
     */
    public static NDArray softCap(NDArray x, float cap) {
        if (cap <= 0) {
            return x;
        }
        NDArray c = scalar(x, cap); // one constant for both ops
        return x.div(c).tanh().mul(c);
    }

    /**
     * Layer norm over the last axis: {@code (x - mean) / sqrt(var + eps) * gamma + beta}, with the
     * biased variance, as one native op (instead of seven element-wise ones: it matters when
     * decoding one token at a time).
     *
     * @param x the input {@code [..., D]}
     * @param eps added to the variance
     * @param gamma the scale {@code [D]}, or null for ones
     * @param beta the shift {@code [D]}, or null for zeros
     * @return the normalized values
     */
    public static NDArray layerNormLastAxis(NDArray x, NDArray gamma, NDArray beta, float eps) {
        Shape s = x.getShape();
        Shape last = new Shape(s.get(s.dimension() - 1));
        NDManager m = x.getManager();
        NDArray g = gamma != null ? gamma : m.ones(last, x.getDataType(), x.getDevice());
        NDArray b = beta != null ? beta : m.zeros(last, x.getDataType(), x.getDevice());
        return x.getNDArrayInternal().layerNorm(x, last, g, b, eps).singletonOrThrow();
    }

    /**
     * Divides by the root mean square over the last axis: {@code x / sqrt(mean(x^2) + eps)}.
     *
     * @param x the input {@code [..., D]}
     * @param eps added to the mean square
     * @return the normalized values
     */
    public static NDArray rmsNormalizeLastAxis(NDArray x, float eps) {
        return x.div(x.square().mean(new int[] {-1}, true).add(scalar(x, eps)).sqrt());
    }
}
