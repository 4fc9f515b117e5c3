package ai.djl.xlstm.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** The types a model's weights may be stored in, and the checks for float16. */
public final class WeightTypes {

    /** The largest finite float16 value. */
    public static final float HALF_MAX = 65504f;

    private WeightTypes() {}

    /**
     * Refuses any type but float32 and float16.
     *
     * @param type the requested type
     * @param what names the argument in the message
     * @return {@code type}
     * @throws IllegalArgumentException for null or another type; bfloat16 with the reason
     */
    public static DataType require(DataType type, String what) {
        if (type == DataType.FLOAT32 || type == DataType.FLOAT16) {
            return type;
        }
        if (type == DataType.BFLOAT16) {
            throw new IllegalArgumentException(what + " bfloat16 is not supported: DJL 0.36's PyTorch engine has no"
                    + " bfloat16 type in its native bridge and aborts the JVM on any bfloat16 array; use float16,"
                    + " which holds bfloat16 weights exactly for magnitudes from 2^-14 to 65504");
        }
        throw new IllegalArgumentException(what + " must be float32 or float16, got " + type);
    }

    /**
     * Refuses a float32 or float64 array with a finite value beyond float16's range.
     *
     * @param array the array
     * @param name names it in the message
     * @throws IllegalArgumentException if a finite element's magnitude exceeds {@link #HALF_MAX}
     */
    public static void requireHalfRange(NDArray array, String name) {
        if (!array.getDataType().isFloating() || array.getDataType() == DataType.FLOAT16 || array.isEmpty()) {
            return;
        }
        try (NDArray abs = array.abs();
                NDArray large = abs.gt(HALF_MAX);
                NDArray infinite = abs.isInfinite();
                NDArray finite = infinite.logicalNot();
                NDArray bad = large.logicalAnd(finite);
                NDArray any = bad.any()) {
            if (any.getBoolean()) {
                float m;
                try (NDArray beyond = abs.get(bad); NDArray max = beyond.max(); NDArray wide = max.toType(DataType.FLOAT32, false)) {
                    m = wide.getFloat();
                }
                throw new IllegalArgumentException("weight '" + name + "' " + array.getShape() + " holds a value of"
                        + " magnitude " + m + ", beyond float16's range (" + HALF_MAX + "); keep float32 weights");
            }
        }
    }
}
