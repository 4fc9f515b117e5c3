package ai.djl.xlstm.io;

import ai.djl.ndarray.types.DataType;

import java.util.function.IntUnaryOperator;

/** The supported safetensors dtypes, with the DJL type each one is loaded as. */
enum Dtype {
    F64(8, DataType.FLOAT64, null),
    F32(4, DataType.FLOAT32, null),
    F16(2, DataType.FLOAT32, HalfFloats::halfToFloatBits),
    BF16(2, DataType.FLOAT32, bits -> bits << 16),
    I64(8, DataType.INT64, null),
    I32(4, DataType.INT32, null),
    I16(2, DataType.INT32, bits -> (short) bits),
    I8(1, DataType.INT8, null),
    U8(1, DataType.UINT8, null),
    BOOL(1, DataType.BOOLEAN, null);

    final int size;
    final DataType target;
    /** Maps a 16-bit value to the bits of its 32-bit target, or null to copy bytes as is. */
    final IntUnaryOperator widen;

    Dtype(int size, DataType target, IntUnaryOperator widen) {
        this.size = size;
        this.target = target;
        this.widen = widen;
    }

    static Dtype parse(String name) {
        for (Dtype dtype : values()) {
            if (dtype.name().equals(name)) {
                return dtype;
            }
        }
        return null;
    }

    static Dtype of(DataType type, String tensor) {
        if (type == DataType.FLOAT16) {
            return F16; // float16 weights are written as they are
        }
        for (Dtype dtype : values()) {
            if (dtype.widen == null && dtype.target == type) {
                return dtype;
            }
        }
        throw new IllegalArgumentException(
                "Cannot save tensor '" + tensor + "' of type " + type
                        + "; supported: float32, float16, float64, int64, int32, int8, uint8, boolean");
    }
}
