package ai.djl.xlstm.io;

/**
 * Half-float conversion: float32 to IEEE half precision ({@code F16}) and to bfloat16 ({@code
 * BF16}), both rounded to nearest even, for {@link SafeTensors#save(java.nio.file.Path,
 * java.util.Map, java.util.Map, SafeTensors.FloatStorage)}; and half-precision bits to float32 bits,
 * for loading {@code F16} tensors.
 */
final class HalfFloats {

    private HalfFloats() {}

    /** float32 to IEEE binary16, rounded to nearest even; beyond the range, infinity. */
    static short floatToHalf(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = (bits >>> 23) & 0xFF;
        int mantissa = bits & 0x7FFFFF;
        if (exponent == 0xFF) { // infinity or NaN (a quiet NaN stays a NaN)
            return (short) (sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0));
        }
        int e = exponent - 127 + 15;
        if (e >= 0x1F) {
            return (short) (sign | 0x7C00);
        }
        if (e <= 0) { // a subnormal half, or zero
            if (e < -10) {
                return (short) sign;
            }
            int m = mantissa | 0x800000;
            int shift = 14 - e;
            int half = m >> shift;
            int rest = m & ((1 << shift) - 1);
            int halfway = 1 << (shift - 1);
            if (rest > halfway || (rest == halfway && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        int out = sign | (e << 10) | (mantissa >> 13);
        int rest = mantissa & 0x1FFF;
        if (rest > 0x1000 || (rest == 0x1000 && (out & 1) != 0)) {
            out++; // a carry into the exponent is right, up to infinity
        }
        return (short) out;
    }

    /** float32 to bfloat16, rounded to nearest even. */
    static short floatToBfloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** Converts IEEE 754 half-precision bits to single-precision bits. */
    static int halfToFloatBits(int half) {
        int sign = (half & 0x8000) << 16;
        int exponent = (half >>> 10) & 0x1F;
        int mantissa = half & 0x3FF;
        if (exponent == 0x1F) { // infinity or NaN, keeping the NaN payload
            return sign | 0x7F800000 | mantissa << 13;
        }
        if (exponent == 0) { // zero or subnormal: mantissa * 2^-24, exact in float
            return sign | Float.floatToRawIntBits(mantissa * 0x1p-24f);
        }
        return sign | (exponent + 127 - 15) << 23 | mantissa << 13;
    }
}
