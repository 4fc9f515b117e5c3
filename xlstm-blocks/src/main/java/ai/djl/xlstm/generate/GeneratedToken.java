package ai.djl.xlstm.generate;

import java.util.Objects;

/**
 * One generated token as streamed.
 *
 * @param sequence the index of the sequence in its batch (0 for a single prompt)
 * @param id the token id
 * @param logProb the token's log-probability under the model (the raw distribution, before
 *     penalty, temperature and filtering)
 * @param text the text this token completes, safe to print: empty while a multi-byte character
 *     or a possible stop string is still incomplete, and possibly more than one token's worth
 *     when it completes earlier tokens' characters
 */
public record GeneratedToken(int sequence, long id, double logProb, String text) {

    /**
     * Checks that the text is present (empty when the token completes no text).
     *
     * @param sequence the index of the sequence in its batch (0 for a single prompt)
     * @param id the token id
     * @param logProb the token's log-probability under the model (the raw distribution, before
     *     penalty, temperature and filtering)
     * @param text the text this token completes, safe to print: empty while a multi-byte character
     *     or a possible stop string is still incomplete, and possibly more than one token's worth
     *     when it completes earlier tokens' characters
     * @throws NullPointerException if {@code text} is null
     */
    public GeneratedToken {
        Objects.requireNonNull(text, "text");
    }
}
