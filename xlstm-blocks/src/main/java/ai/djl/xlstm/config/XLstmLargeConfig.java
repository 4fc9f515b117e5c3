package ai.djl.xlstm.config;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Upstream {@code xLSTMLargeConfig} (the xLSTM 7B architecture): {@code num_blocks} mLSTM blocks
 * with RMSNorm and SwiGLU feed-forward, soft-capped gates and logits.
 *
 * @param vocabSize the vocabulary size V, in [1, {@link #MAX_VOCAB_SIZE}]
 * @param embeddingDim the model dimension D, in [1, {@link #MAX_EMBEDDING_DIM}]
 * @param numHeads the number of heads NH, in [1, D]; it must divide the query/key and the value
 *     dimensions
 * @param numBlocks the number of blocks, in [1, {@link #MAX_NUM_BLOCKS}]
 * @param useBias whether the projections and norms have biases
 * @param normEps the epsilon of the RMS and multi-head norms (finite, > 0)
 * @param addOutNorm whether an RMSNorm follows the last block
 * @param qkDimFactor the query/key dimension as a fraction of D, in (0, {@link #MAX_PROJ_FACTOR}]
 * @param vDimFactor the value dimension as a fraction of D, in (0, {@link #MAX_PROJ_FACTOR}]
 * @param chunkSize the chunk size of the chunkwise mLSTM kernel, in [1, {@link #MAX_CHUNK_SIZE}]
 * @param eps the epsilon of the mLSTM denominator (finite, > 0)
 * @param ffnProjFactor the feed-forward up-projection factor, in (0, {@link #MAX_PROJ_FACTOR}]
 * @param ffnRoundUpToMultipleOf the rounding multiple of the feed-forward dimension, in [1, {@link
 *     #MAX_ROUND_UP_TO_MULTIPLE_OF}]
 * @param gateSoftCap the soft cap of the i and f gate pre-activations (finite, >= 0; 0 disables)
 * @param outputLogitSoftCap the soft cap of the output logits (finite, >= 0; 0 disables)
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

    /**
     * Validates the config: every value within its bound ({@link XLstmConfig}).
     *
     * @param vocabSize the vocabulary size V, in [1, {@link #MAX_VOCAB_SIZE}]
     * @param embeddingDim the model dimension D, in [1, {@link #MAX_EMBEDDING_DIM}]
     * @param numHeads the number of heads NH, in [1, D]; it must divide the query/key and the value
     *     dimensions
     * @param numBlocks the number of blocks, in [1, {@link #MAX_NUM_BLOCKS}]
     * @param useBias whether the projections and norms have biases
     * @param normEps the epsilon of the RMS and multi-head norms (finite, > 0)
     * @param addOutNorm whether an RMSNorm follows the last block
     * @param qkDimFactor the query/key dimension as a fraction of D, in (0, {@link
     *     #MAX_PROJ_FACTOR}]
     * @param vDimFactor the value dimension as a fraction of D, in (0, {@link #MAX_PROJ_FACTOR}]
     * @param chunkSize the chunk size of the chunkwise mLSTM kernel, in [1, {@link
     *     #MAX_CHUNK_SIZE}]
     * @param eps the epsilon of the mLSTM denominator (finite, > 0)
     * @param ffnProjFactor the feed-forward up-projection factor, in (0, {@link #MAX_PROJ_FACTOR}]
     * @param ffnRoundUpToMultipleOf the rounding multiple of the feed-forward dimension, in [1,
     *     {@link #MAX_ROUND_UP_TO_MULTIPLE_OF}]
     * @param gateSoftCap the soft cap of the i and f gate pre-activations (finite, >= 0; 0
     *     disables)
     * @param outputLogitSoftCap the soft cap of the output logits (finite, >= 0; 0 disables)
     * @throws IllegalArgumentException if a value is outside its bound or the values do not fit
     *     together as described above; the message names the field and the value
     */
    public XLstmLargeConfig {
        ConfigMap.requireIn("vocab_size", vocabSize, 1, MAX_VOCAB_SIZE);
        ConfigMap.requireIn("embedding_dim", embeddingDim, 1, MAX_EMBEDDING_DIM);
        ConfigMap.requireIn("num_heads", numHeads, 1, embeddingDim);
        ConfigMap.requireIn("num_blocks", numBlocks, 1, MAX_NUM_BLOCKS);
        ConfigMap.requirePositiveAtMost("qk_dim_factor", qkDimFactor, MAX_PROJ_FACTOR);
        ConfigMap.requirePositiveAtMost("v_dim_factor", vDimFactor, MAX_PROJ_FACTOR);
        int qk = (int) (embeddingDim * qkDimFactor);
        int v = (int) (embeddingDim * vDimFactor);
        ConfigMap.require(
                qk > 0 && qk % numHeads == 0,
                "num_heads " + numHeads + " must divide the qk dimension " + qk
                        + " (embedding_dim x qk_dim_factor, which must be at least num_heads)");
        ConfigMap.require(
                v > 0 && v % numHeads == 0,
                "num_heads " + numHeads + " must divide the v dimension " + v
                        + " (embedding_dim x v_dim_factor, which must be at least num_heads)");
        ConfigMap.requireIn("chunk_size", chunkSize, 1, MAX_CHUNK_SIZE);
        ConfigMap.requireFinitePositive("norm_eps", normEps);
        ConfigMap.requireFinitePositive("eps", eps);
        ConfigMap.requirePositiveAtMost("ffn_proj_factor", ffnProjFactor, MAX_PROJ_FACTOR);
        ConfigMap.requireIn(
                "ffn_round_up_to_multiple_of", ffnRoundUpToMultipleOf, 1, MAX_ROUND_UP_TO_MULTIPLE_OF);
        ConfigMap.requireFiniteNonNegative("gate_soft_cap", gateSoftCap);
        ConfigMap.requireFiniteNonNegative("output_logit_soft_cap", outputLogitSoftCap);
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

    @Override
    public long parameterCount() {
        long d = embeddingDim;
        long qk = qkDim();
        long v = vDim();
        long heads = numHeads;
        long up = ffnUpDim();
        long b = useBias ? 1 : 0;
        long block = 2 * d * (1 + b) // norm_mlstm, norm_ffn: weight (and bias)
                + 2 * (d * qk + b * qk) // mlstm_layer q, k
                + 2 * (d * v + b * v) // mlstm_layer v, ogate_preact
                + 2 * (d * heads + heads) // mlstm_layer igate_preact, fgate_preact (with bias)
                + v * (1 + b) // mlstm_layer multihead_norm
                + v * d + b * d // mlstm_layer out_proj
                + 2 * (d * up + b * up) // ffn proj_up_gate, proj_up
                + up * d + b * d; // ffn proj_down
        return 2L * vocabSize * d // embedding, lm_head (never tied, no bias)
                + (addOutNorm ? d * (1 + b) : 0) // out_norm
                + numBlocks * block;
    }

    /**
     * The query/key dimension (all heads).
     *
     * @return the qk dimension
     */
    public int qkDim() {
        return (int) (embeddingDim * qkDimFactor);
    }

    /**
     * The value dimension (all heads).
     *
     * @return the v dimension
     */
    public int vDim() {
        return (int) (embeddingDim * vDimFactor);
    }

    /**
     * The feed-forward up-projection dimension.
     *
     * @return the up-projection dimension
     */
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
