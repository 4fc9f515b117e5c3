package ai.djl.xlstm.config;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Upstream {@code xLSTMLargeConfig} (the xLSTM 7B architecture): {@code num_blocks} mLSTM blocks
 * with RMSNorm and SwiGLU feed-forward, soft-capped gates and logits.
 *
 * @param vocabSize V
 * @param embeddingDim D
 * @param numHeads NH
 * @param numBlocks the number of blocks
 * @param useBias whether the projections and norms have biases
 * @param normEps the epsilon of the RMS and multi-head norms
 * @param addOutNorm whether an RMSNorm follows the last block
 * @param qkDimFactor the query/key dimension as a fraction of D
 * @param vDimFactor the value dimension as a fraction of D
 * @param chunkSize the chunk size of the chunkwise mLSTM kernel
 * @param eps the epsilon of the mLSTM denominator
 * @param ffnProjFactor the feed-forward up-projection factor
 * @param ffnRoundUpToMultipleOf the rounding multiple of the feed-forward dimension
 * @param gateSoftCap the soft cap of the i and f gate pre-activations (0 disables)
 * @param outputLogitSoftCap the soft cap of the output logits (0 disables)
 */
public record XLstmLargeConfig(
        int vocabSize,
        int embeddingDim,
        int numHeads,
        int numBlocks,
        boolean useBias,
        float normEps,
        boolean addOutNorm,
        double qkDimFactor,
        double vDimFactor,
        int chunkSize,
        float eps,
        double ffnProjFactor,
        int ffnRoundUpToMultipleOf,
        float gateSoftCap,
        float outputLogitSoftCap)
        implements XLstmConfig {

    /** The architecture name in {@code config.json}. */
    public static final String ARCHITECTURE = "xlstm-large";

    /** Validates the config. */
    public XLstmLargeConfig {
        ConfigMap.require(vocabSize > 0, "vocab_size must be > 0, got " + vocabSize);
        ConfigMap.require(embeddingDim > 0, "embedding_dim must be > 0, got " + embeddingDim);
        ConfigMap.require(numHeads > 0, "num_heads must be > 0, got " + numHeads);
        ConfigMap.require(numBlocks > 0, "num_blocks must be > 0, got " + numBlocks);
        ConfigMap.require(qkDimFactor > 0 && vDimFactor > 0, "qk_dim_factor and v_dim_factor must be > 0");
        int qk = (int) (embeddingDim * qkDimFactor);
        int v = (int) (embeddingDim * vDimFactor);
        ConfigMap.require(qk % numHeads == 0, "num_heads " + numHeads + " must divide the qk dimension " + qk);
        ConfigMap.require(v % numHeads == 0, "num_heads " + numHeads + " must divide the v dimension " + v);
        ConfigMap.require(chunkSize > 0, "chunk_size must be > 0, got " + chunkSize);
        ConfigMap.require(normEps > 0 && eps > 0, "norm_eps and eps must be > 0");
        ConfigMap.require(ffnProjFactor > 0 && ffnRoundUpToMultipleOf > 0, "ffn_proj_factor and ffn_round_up_to_multiple_of must be > 0");
        ConfigMap.require(gateSoftCap >= 0 && outputLogitSoftCap >= 0, "soft caps must be >= 0");
    }

    @Override
    public String architecture() {
        return ARCHITECTURE;
    }

    @Override
    public Map<String, Object> toUpstreamMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", ARCHITECTURE);
        m.put("vocab_size", vocabSize);
        m.put("embedding_dim", embeddingDim);
        m.put("num_heads", numHeads);
        m.put("num_blocks", numBlocks);
        m.put("use_bias", useBias);
        m.put("norm_eps", ConfigMap.decimal(normEps));
        m.put("add_out_norm", addOutNorm);
        m.put("qk_dim_factor", qkDimFactor);
        m.put("v_dim_factor", vDimFactor);
        m.put("chunk_size", chunkSize);
        m.put("eps", ConfigMap.decimal(eps));
        m.put("ffn_proj_factor", ffnProjFactor);
        m.put("ffn_round_up_to_multiple_of", ffnRoundUpToMultipleOf);
        m.put("gate_soft_cap", ConfigMap.decimal(gateSoftCap));
        m.put("output_logit_soft_cap", ConfigMap.decimal(outputLogitSoftCap));
        m.put("weight_mode", "single"); // what UpstreamCheckpoint.save writes (see ImportOptions)
        return m;
    }

    /** The query/key dimension (all heads). */
    public int qkDim() {
        return (int) (embeddingDim * qkDimFactor);
    }

    /** The value dimension (all heads). */
    public int vDim() {
        return (int) (embeddingDim * vDimFactor);
    }

    /** The feed-forward up-projection dimension. */
    public int ffnUpDim() {
        return ConfigMap.roundUpToMultiple(embeddingDim * ffnProjFactor, ffnRoundUpToMultipleOf);
    }

    /** Reads the upstream fields, also under their Hugging Face aliases. */
    static XLstmLargeConfig from(Map<String, Object> raw) {
        ConfigMap m = new ConfigMap("", raw);
        return new XLstmLargeConfig(
                m.requireInt("vocab_size"),
                m.has("embedding_dim") ? m.requireInt("embedding_dim") : m.requireInt("hidden_size"),
                m.getInt("num_heads", 8),
                m.has("num_blocks") ? m.requireInt("num_blocks") : m.requireInt("num_hidden_layers"),
                m.getBoolean("use_bias", false),
                (float) m.getDouble("norm_eps", 1e-6),
                m.getBoolean("add_out_norm", true),
                m.getDouble("qk_dim_factor", 0.5),
                m.getDouble("v_dim_factor", 1.0),
                m.getInt("chunk_size", 64),
                (float) m.getDouble("eps", 1e-6),
                m.getDouble("ffn_proj_factor", 2.6667),
                m.getInt("ffn_round_up_to_multiple_of", 64),
                (float) m.getDouble("gate_soft_cap", 15.0),
                (float) m.getDouble("output_logit_soft_cap", 30.0));
    }
}
