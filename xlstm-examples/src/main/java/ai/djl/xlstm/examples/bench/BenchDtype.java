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
     * Refuses a type the model path cannot run, before anything is loaded: {@link #F16} runs (weights
     * held in float16, see {@code XLstmLanguageModel.castWeights}); {@link #BF16} is refused, because
     * DJL 0.36's PyTorch engine aborts the JVM on any bfloat16 array and a benchmark must never do
     * that.
     *
     * @throws IllegalArgumentException for {@link #BF16}
     */
    public void requireSupported() {
        if (this == BF16) {
            throw new IllegalArgumentException("--dtype bf16: not supported, and refused rather than risked: DJL's"
                    + " PyTorch engine aborts the JVM on bfloat16 arrays; use --dtype f16 (a BF16 checkpoint loads"
                    + " exactly into float16 weights)");
        }
    }

    /**
     * The Criteria argument {@code weights} of this type.
     *
     * @return {@code float32} or {@code float16}
     */
    public String weightsArgument() {
        return this == F32 ? "float32" : this == F16 ? "float16" : "bfloat16";
    }
}
