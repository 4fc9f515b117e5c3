package ai.djl.xlstm.generate;

import java.util.Locale;

/** Why a sequence stopped. */
public enum FinishReason {
    /** It produced an end-of-sequence token. */
    EOS,
    /** Its text reached a stop string. */
    STOP,
    /** It reached the maximum number of new tokens. */
    LENGTH,
    /** It was cancelled: its stream was cancelled or closed early, or its thread was interrupted. */
    CANCELLED;

    /**
     * The name used in JSON output, as the OpenAI API's {@code finish_reason}: {@code stop} for an
     * end-of-sequence token or a stop string, {@code length} for the token limit (any other reason:
     * its lower-case name).
     *
     * @return the JSON name
     */
    public String jsonName() {
        return switch (this) {
            case EOS, STOP -> "stop";
            case LENGTH -> "length";
            default -> name().toLowerCase(Locale.ROOT);
        };
    }
}
