package ai.djl.xlstm.config;

import java.util.Set;

/**
 * Upstream {@code FeedForwardConfig} of the NeurIPS sLSTM block: a gated feed-forward with
 * up-projection {@code proj_factor * embedding_dim}, rounded up to {@code
 * round_proj_up_to_multiple_of}.
 *
 * @param embeddingDim the model dimension D, in [1, {@link XLstmConfig#MAX_EMBEDDING_DIM}]
 * @param projFactor the up-projection factor (upstream default 1.3), in (0, {@link
 *     XLstmConfig#MAX_PROJ_FACTOR}]
 * @param actFn the gate activation: gelu, relu, relu^2, sigmoid, swish, silu, selu
 * @param roundUpToMultipleOf the rounding multiple of the up-projection (upstream 64), in [1,
 *     {@link XLstmConfig#MAX_ROUND_UP_TO_MULTIPLE_OF}]
 * @param bias whether the projections have biases
 * @param dropout the dropout rate after the down-projection, in [0, 1)
 */
public record FeedForwardConfig(
        int embeddingDim,
        double projFactor,
        String actFn,
        int roundUpToMultipleOf,
        boolean bias,
        float dropout) {

    private static final Set<String> ACTIVATIONS =
            Set.of("gelu", "relu", "relu^2", "sigmoid", "swish", "silu", "selu");

    /**
     * Validates the config: every value within its bound ({@link XLstmConfig}).
     *
     * @param embeddingDim the model dimension D, in [1, {@link XLstmConfig#MAX_EMBEDDING_DIM}]
     * @param projFactor the up-projection factor (upstream default 1.3), in (0, {@link
     *     XLstmConfig#MAX_PROJ_FACTOR}]
     * @param actFn the gate activation: gelu, relu, relu^2, sigmoid, swish, silu, selu
     * @param roundUpToMultipleOf the rounding multiple of the up-projection (upstream 64), in [1,
     *     {@link XLstmConfig#MAX_ROUND_UP_TO_MULTIPLE_OF}]
     * @param bias whether the projections have biases
     * @param dropout the dropout rate after the down-projection, in [0, 1)
     * @throws IllegalArgumentException if a value is outside its bound or {@code actFn} is none of
     *     those above; the message names the field and the value
     */
    public FeedForwardConfig {
        ConfigMap.requireIn("feedforward.embedding_dim", embeddingDim, 1, XLstmConfig.MAX_EMBEDDING_DIM);
        ConfigMap.requirePositiveAtMost("feedforward.proj_factor", projFactor, XLstmConfig.MAX_PROJ_FACTOR);
        ConfigMap.require(
                ACTIVATIONS.contains(actFn),
                "feedforward: act_fn must be one of " + ACTIVATIONS + ", got '" + actFn + "'");
        ConfigMap.requireIn(
                "feedforward.round_proj_up_to_multiple_of", roundUpToMultipleOf, 1,
                XLstmConfig.MAX_ROUND_UP_TO_MULTIPLE_OF);
        ConfigMap.requireRate("feedforward.dropout", dropout);
    }

    /**
     * The up-projection dimension P.
     *
     * @return P
     */
    public int projUpDim() {
        return ConfigMap.roundUpToMultiple(projFactor * embeddingDim, roundUpToMultipleOf);
    }

    /**
     * The number of parameter elements of the feed-forward ({@code proj_up}, {@code proj_down}).
     *
     * @return the parameter element count
     */
    public long parameterCount() {
        long d = embeddingDim;
        long p = projUpDim();
        return d * 2 * p + (bias ? 2 * p : 0) // proj_up: gate and value
                + p * d + (bias ? d : 0); // proj_down
    }

    static FeedForwardConfig from(ConfigMap m, int embeddingDim, boolean bias, float dropout) {
        ConfigMap c = m == null ? new ConfigMap("feedforward", null) : m;
        return new FeedForwardConfig(
                embeddingDim,
                c.getDouble("proj_factor", 1.3),
                c.getString("act_fn", "gelu"),
                c.getInt("round_proj_up_to_multiple_of", 64),
                c.getBoolean("bias", bias),
                (float) c.getDouble("dropout", dropout));
    }
}
