package ai.djl.xlstm.internal.decode;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;

import java.util.Arrays;
import java.util.Map;

/**
 * The model's parameters by name ({@code ParameterNames}), copied out as float32 arrays, or, for
 * the large matrices of a float16 model, as {@link Matrix} float16 bits.
 */
final class Weights {

    private final Map<String, Parameter> parameters;

    Weights(Map<String, Parameter> parameters) {
        this.parameters = parameters;
    }

    boolean has(String name) {
        return parameters.containsKey(name);
    }

    /** The parameter's values as float32 (widened from float16), row-major, after checking its shape. */
    float[] get(String name, long... shape) {
        NDArray a = array(name, shape);
        if (a.getDataType() == DataType.FLOAT16) {
            try (NDArray wide = a.toType(DataType.FLOAT32, false)) {
                return wide.toFloatArray();
            }
        }
        return a.toFloatArray();
    }

    /**
     * A weight matrix {@code [rows, cols]} in the type it is stored in: float16 bits where the
     * parameter is float16 (and {@code cols} even), else float32.
     */
    Matrix matrix(String name, int rows, int cols) {
        NDArray a = array(name, rows, cols);
        if (a.getDataType() == DataType.FLOAT16 && cols % 2 == 0) {
            return Matrix.packed(halfPairs(a), rows, cols);
        }
        return Matrix.of(get(name, rows, cols), rows, cols);
    }

    /**
     * The weights {@code prefix + names[i] + ".weight"}, each {@code [rows[i], cols]}, stacked into
     * one {@link Matrix}: float16 where all are float16, else float32.
     */
    Matrix matrixOfRows(String prefix, String[] names, int[] rows, int cols) {
        int total = 0;
        boolean half = cols % 2 == 0;
        for (int i = 0; i < names.length; i++) {
            total += rows[i];
            half &= array(prefix + names[i] + ".weight", rows[i], cols).getDataType() == DataType.FLOAT16;
        }
        if (!half) {
            return Matrix.of(rowsOf(prefix, names, rows, cols), total, cols);
        }
        int[] out = new int[Math.multiplyExact(total, cols) / 2];
        int at = 0;
        for (int i = 0; i < names.length; i++) {
            int[] part = halfPairs(array(prefix + names[i] + ".weight", rows[i], cols));
            System.arraycopy(part, 0, out, at, part.length);
            at += part.length;
        }
        return Matrix.packed(out, total, cols);
    }

    /**
     * The float16 values of a float16 array (an even count), row-major, read two to an int as
     * {@link Matrix} packs them: a little-endian int holds the even value low, the odd one high.
     */
    private static int[] halfPairs(NDArray a) {
        java.nio.IntBuffer b = a.toByteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN).asIntBuffer();
        int[] pairs = new int[b.remaining()];
        b.get(pairs);
        return pairs;
    }

    /** The parameter's array after checking it is initialized, of shape {@code shape}, float32 or float16. */
    private NDArray array(String name, long... shape) {
        Parameter p = parameters.get(name);
        if (p == null) {
            throw new IllegalArgumentException("the model has no parameter " + name);
        }
        if (!p.isInitialized()) {
            throw new IllegalArgumentException("parameter " + name + " is not initialized: initialize the model first");
        }
        NDArray a = p.getArray();
        if (!Arrays.equals(a.getShape().getShape(), shape)) {
            throw new IllegalArgumentException(
                    "parameter " + name + " has shape " + a.getShape() + ", expected " + Arrays.toString(shape));
        }
        if (a.getDataType() != DataType.FLOAT32 && a.getDataType() != DataType.FLOAT16) {
            throw new IllegalArgumentException("parameter " + name + " is " + a.getDataType() + ", not float32 or float16");
        }
        return a;
    }

    /** The parameter, or null where the model has none of that name (an optional bias). */
    float[] optional(String name, long... shape) {
        return has(name) ? get(name, shape) : null;
    }

    /** {@code 1 + w} of a norm weight stored as an offset from one. */
    float[] onePlus(String name, long dim) {
        float[] w = get(name, dim);
        for (int i = 0; i < w.length; i++) {
            w[i] = 1f + w[i];
        }
        return w;
    }

    /** Whether all parameters are float32 or float16 arrays on the CPU. */
    boolean allOnCpuInSupportedTypes() {
        for (Parameter p : parameters.values()) {
            if (!p.isInitialized()) {
                return true; // reported by get(), with the name
            }
            NDArray a = p.getArray();
            DataType t = a.getDataType();
            if ((t != DataType.FLOAT32 && t != DataType.FLOAT16) || a.getDevice().isGpu()) {
                return false;
            }
        }
        return true;
    }

    /** A causal conv1d weight {@code [dim, 1, K]} as {@code [K, dim]}: the loop over dim innermost. */
    float[] convTransposed(String name, int dim, int kernel) {
        float[] w = get(name, dim, 1, kernel);
        float[] t = new float[w.length];
        for (int d = 0; d < dim; d++) {
            for (int k = 0; k < kernel; k++) {
                t[k * dim + d] = w[d * kernel + k];
            }
        }
        return t;
    }

    /**
     * The weights {@code prefix + names[i] + ".weight"}, each {@code [rows[i], cols]}, stacked
     * into one row-major {@code [sum rows, cols]} matrix (one matrix-vector pass for all).
     */
    float[] rowsOf(String prefix, String[] names, int[] rows, int cols) {
        int total = 0;
        for (int r : rows) {
            total += r;
        }
        float[] out = new float[Math.multiplyExact(total, cols)];
        int at = 0;
        for (int i = 0; i < names.length; i++) {
            float[] part = get(prefix + names[i] + ".weight", rows[i], cols);
            System.arraycopy(part, 0, out, at, part.length);
            at += part.length;
        }
        return out;
    }

    /** The biases {@code prefix + names[i] + ".bias"} stacked as {@link #rowsOf}; zeros where absent. */
    float[] biasesOf(String prefix, String[] names, int[] rows) {
        int total = 0;
        for (int r : rows) {
            total += r;
        }
        float[] out = new float[total];
        int at = 0;
        for (int i = 0; i < names.length; i++) {
            float[] part = optional(prefix + names[i] + ".bias", rows[i]);
            if (part != null) {
                System.arraycopy(part, 0, out, at, part.length);
            }
            at += rows[i];
        }
        return out;
    }
}
