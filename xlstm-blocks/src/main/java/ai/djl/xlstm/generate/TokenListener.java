package ai.djl.xlstm.generate;

/** Receives tokens as they are generated (called on the generating thread, in order). */
@FunctionalInterface
public interface TokenListener {

    /**
     * Called once per generated token.
     *
     * @param token the token, with its text and log-probability
     */
    void onToken(GeneratedToken token);
}
