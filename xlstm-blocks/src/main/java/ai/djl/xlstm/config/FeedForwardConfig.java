package ai.djl.xlstm.config;

import java.util.Set;

/**
 * Upstream {@code FeedForwardConfig} of the NeurIPS sLSTM block: a gated feed-forward with
 * up-projection {@code proj_factor * embedding_dim}, rounded up to {@code
 * round_proj_up_to_multiple_of}.
 *
 * @param embeddingDim D
 * @param projFactor the up-projection factor (upstream default 1.3)
 * @param actFn the gate activation: gelu, relu, relu^2, sigmoid, swish, silu, selu
 * @param roundUpToMultipleOf the rounding multiple of the up-projection (64)
 * @param bias whether the projections have biases
 * @param dropout the dropout rate after the down-projection
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

    /** Validates the config. */
    public FeedForwardConfig {
        ConfigMap.require(embeddingDim > 0, "feedforward: embedding_dim must be > 0, got " + embeddingDim);
        ConfigMap.require(projFactor > 0, "feedforward: proj_factor must be > 0, got " + projFactor);
        ConfigMap.require(
                ACTIVATIONS.contains(actFn),
                "feedforward: act_fn must be one of " + ACTIVATIONS + ", got '" + actFn + "'");
        ConfigMap.require(roundUpToMultipleOf > 0, "feedforward: round_proj_up_to_multiple_of must be > 0");
        ConfigMap.require(dropout >= 0 && dropout < 1, "feedforward: dropout must be in [0, 1)");
    }

    /** The up-projection dimension P. */
    public int projUpDim() {
        return ConfigMap.roundUpToMultiple(projFactor * embeddingDim, roundUpToMultipleOf);
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
