package ai.djl.xlstm.examples.bench;

import java.util.Locale;

/** The weight type of {@code xlstm bench --dtype}. */
public enum BenchDtype {
    /** 32-bit floats: what the model path computes in. */
    F32,
    /** 16-bit IEEE floats. */
    F16,
    /** bfloat16. */
    BF16;

    /**
     * The name on the command line and in the JSON lines.
     *
     * @return the lower-case name
     */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The bytes of one element.
     *
     * @return 4 or 2
     */
    public int bytes() {
        return this == F32 ? 4 : 2;
    }

    /**
     * The type named {@code name} ({@code f32}, {@code f16}, {@code bf16}; also {@code float32},
     * {@code float16}, {@code bfloat16}).
     *
     * @param name the name
     * @return the type
     * @throws IllegalArgumentException for another name
     */
    public static BenchDtype parse(String name) {
        String n = name.strip().toLowerCase(Locale.ROOT);
        switch (n) {
            case "f32", "fp32", "float32":
                return F32;
            case "f16", "fp16", "float16":
                return F16;
            case "bf16", "bfloat16":
                return BF16;
            default:
                throw new IllegalArgumentException("--dtype: unknown type '" + name + "' (expected f32, f16 or bf16)");
        }
    }

    /**
     * Refuses a type the model path cannot run yet, before anything is loaded: the xLSTM blocks
     * compute in float32 (their states and kernels are float32), and bfloat16 through DJL's PyTorch
     * engine has crashed the JVM, which a benchmark must never do.
     *
     * @throws IllegalArgumentException for {@link #F16} and {@link #BF16}
     */
    public void requireSupported() {
        if (this == F16) {
            throw new IllegalArgumentException("--dtype f16: not supported yet by the model path (the xLSTM blocks"
                    + " and their states compute in float32); use --dtype f32");
        }
        if (this == BF16) {
            throw new IllegalArgumentException("--dtype bf16: not supported yet by the model path, and refused rather"
                    + " than risked: bfloat16 through DJL's PyTorch engine has crashed the JVM; use --dtype f32");
        }
    }
}
