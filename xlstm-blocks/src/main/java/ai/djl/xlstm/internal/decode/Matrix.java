package ai.djl.xlstm.internal.decode;

/**
 * A row-major {@code [rows, cols]} weight matrix of a decode step, held either as float32 values
 * or as IEEE float16 bits (the model's own float16 weights, copied bit for bit: half the memory,
 * and the bytes a decode step reads from memory, halved too).
 *
 * <p>float16 rows are packed two values to an {@code int}: the value of an even column in the low
 * 16 bits, the next odd column in the high 16 bits, so a vector of ints holds a vector of even and
 * a vector of odd columns, each widened to float32 with a few integer operations (see {@link
 * #halfToFloat}); the columns must be even in number.
 */
final class Matrix {

    final int rows;
    final int cols;
    final float[] values; // [rows * cols], or null
    final int[] halves; // [rows * cols / 2]: (odd << 16) | even, or null

    private Matrix(int rows, int cols, float[] values, int[] halves) {
        this.rows = rows;
        this.cols = cols;
        this.values = values;
        this.halves = halves;
    }

    /** float32 values, row-major. */
    static Matrix of(float[] values, int rows, int cols) {
        if (values.length != (long) rows * cols) {
            throw new IllegalArgumentException(values.length + " values for a [" + rows + ", " + cols + "] matrix");
        }
        return new Matrix(rows, cols, values, null);
    }

    /**
     * float16 bits, row-major; {@code cols} must be even.
     *
     * @throws IllegalArgumentException for an odd column count or an infinite or NaN value (the
     *     widening handles finite values only)
     */
    static Matrix half(short[] bits, int rows, int cols) {
        if (bits.length != (long) rows * cols || cols % 2 != 0) {
            throw new IllegalArgumentException(bits.length + " float16 values for a [" + rows + ", " + cols
                    + "] matrix (an even number of columns is needed)");
        }
        int[] packed = new int[bits.length / 2];
        for (int i = 0; i < packed.length; i++) {
            packed[i] = ((bits[2 * i + 1] & 0xFFFF) << 16) | (bits[2 * i] & 0xFFFF);
        }
        return packed(packed, rows, cols);
    }

    /**
     * float16 bits already packed as this class packs them (what a little-endian buffer of
     * float16 values reads as ints); {@code cols} must be even.
     *
     * @throws IllegalArgumentException for a wrong length or an infinite or NaN value
     */
    static Matrix packed(int[] packed, int rows, int cols) {
        if (packed.length * 2L != (long) rows * cols || cols % 2 != 0) {
            throw new IllegalArgumentException(packed.length + " float16 pairs for a [" + rows + ", " + cols
                    + "] matrix (an even number of columns is needed)");
        }
        for (int i = 0; i < packed.length; i++) {
            int pair = packed[i];
            if ((pair & 0x7C00) == 0x7C00 || (pair & 0x7C000000) == 0x7C000000) {
                throw new NonFiniteHalfException("a float16 weight at row " + (2L * i / cols) + " is infinite or NaN");
            }
        }
        return new Matrix(rows, cols, null, packed);
    }

    /** Whether the values are float16. */
    boolean isHalf() {
        return halves != null;
    }

    /** The bytes the values take. */
    long bytes() {
        return isHalf() ? 4L * halves.length : 4L * values.length;
    }

    /** Row {@code r} as float32 into {@code out[outOff, outOff + cols)}. */
    void row(int r, float[] out, int outOff) {
        if (!isHalf()) {
            System.arraycopy(values, r * cols, out, outOff, cols);
            return;
        }
        int base = r * (cols / 2);
        for (int j = 0; j < cols / 2; j++) {
            int pair = halves[base + j];
            out[outOff + 2 * j] = halfToFloat(pair << 16);
            out[outOff + 2 * j + 1] = halfToFloat(pair & 0xFFFF0000);
        }
    }

    /**
     * The float16 value held in the high 16 bits of {@code top} (low bits zero), widened: its
     * exponent and mantissa moved to float32's positions, read as a float32 whose exponent is 112
     * too small, times {@code 2^112}. The product is exact for normal and subnormal halves (these
     * land on float32 subnormals, which the multiplication scales back exactly); infinities and
     * NaNs are refused when a matrix is made.
     */
    static float halfToFloat(int top) {
        int bits = ((top >>> 3) & 0x0FFFE000) | (top & 0x80000000);
        return Float.intBitsToFloat(bits) * 0x1p112f;
    }

    /** A float16 weight that is infinite or NaN, which {@link #halfToFloat} cannot widen. */
    static final class NonFiniteHalfException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        NonFiniteHalfException(String message) {
            super(message);
        }
    }
}
