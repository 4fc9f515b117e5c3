package ai.djl.xlstm.generate;

/** Why a sequence stopped. */
public enum FinishReason {
    /** It produced an end-of-sequence token. */
    EOS,
    /** Its text reached a stop string. */
    STOP,
    /** It reached the maximum number of new tokens. */
    LENGTH;

    /** The lower-case name used in JSON output ({@code eos}, {@code stop}, {@code length}). */
    public String jsonName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
