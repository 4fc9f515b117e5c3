package ai.djl.xlstm.generate;

import java.util.Objects;

/**
 * The outcome of generating one sequence.
 *
 * @param tokens the generated token ids (an end-of-sequence token included)
 * @param text the generated text: the tokens decoded, without an end-of-sequence token and cut
 *     before a stop string (null without a tokenizer)
 * @param logProbs each generated token's log-probability under the model
 * @param finishReason why generation stopped
 * @param promptTokens how many prompt tokens were prefilled
 * @param prefillNanos the time spent prefilling the prompt
 * @param decodeNanos the time spent generating
 * @param seed the seed this sequence's tokens were sampled with (the config's seed plus the
 *     sequence's index in its batch: generating the prompt alone with this seed gives the same
 *     tokens), or null when no token was sampled (greedy choice, beam search)
 */
public record GenerationResult(
        long[] tokens, String text, double[] logProbs, FinishReason finishReason, int promptTokens,
        long prefillNanos, long decodeNanos, Long seed) {

    /**
     * Checks that the tokens, log-probabilities and finish reason are present.
     *
     * @param tokens the generated token ids (an end-of-sequence token included)
     * @param text the generated text: the tokens decoded, without an end-of-sequence token and cut
     *     before a stop string (null without a tokenizer)
     * @param logProbs each generated token's log-probability under the model
     * @param finishReason why generation stopped
     * @param promptTokens how many prompt tokens were prefilled
     * @param prefillNanos the time spent prefilling the prompt
     * @param decodeNanos the time spent generating
     * @param seed the seed this sequence's tokens were sampled with (the config's seed plus the
     *     sequence's index in its batch: generating the prompt alone with this seed gives the same
     *     tokens), or null when no token was sampled (greedy choice, beam search)
     * @throws NullPointerException if {@code tokens}, {@code logProbs} or {@code finishReason} is
     *     null
     */
    public GenerationResult {
        Objects.requireNonNull(tokens, "tokens");
        Objects.requireNonNull(logProbs, "logProbs");
        Objects.requireNonNull(finishReason, "finishReason");
    }

    /**
     * The sum of the generated tokens' log-probabilities.
     *
     * @return the total log-probability
     */
    public double totalLogProb() {
        double sum = 0;
        for (double lp : logProbs) {
            sum += lp;
        }
        return sum;
    }

    /**
     * Generated tokens per second of decoding (0 when nothing was generated).
     *
     * @return the decoding speed in tokens per second
     */
    public double tokensPerSecond() {
        return decodeNanos <= 0 || tokens.length == 0 ? 0 : tokens.length * 1e9 / decodeNanos;
    }
}
