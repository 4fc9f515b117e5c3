package ai.djl.xlstm.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Upstream {@code xLSTMLMModelConfig} (NeurIPS paper): a stack of {@code num_blocks} residual
 * blocks, sLSTM blocks at the positions {@code slstm_at} and mLSTM blocks elsewhere (xLSTM[a:b]).
 *
 * @param vocabSize the vocabulary size V, in [1, {@link #MAX_VOCAB_SIZE}]
 * @param embeddingDim the model dimension D, in [1, {@link #MAX_EMBEDDING_DIM}]; the sections'
 *     {@code embeddingDim} must equal it
 * @param numBlocks the number of residual blocks, in [1, {@link #MAX_NUM_BLOCKS}]
 * @param slstmAt the (sorted, distinct) block indices in [0, numBlocks) that are sLSTM blocks;
 *     copied
 * @param contextLength the training context length, in [1, {@link #MAX_CONTEXT_LENGTH}]
 *     (informational)
 * @param mlstm the mLSTM layer config, null when every block is an sLSTM block
 * @param slstm the sLSTM layer config, null when {@code slstmAt} is empty
 * @param feedforward the gated feed-forward of the sLSTM blocks, null when {@code slstmAt} is empty
 * @param tieWeights whether the LM head shares the embedding matrix
 * @param addPostBlocksNorm whether a LayerNorm follows the last block
 * @param bias whether the linear layers have biases
 * @param dropout the dropout rate, in [0, 1)
 */
public record XLstmLmConfig(
        int vocabSize,
        int embeddingDim,
        int numBlocks,
        List<Integer> slstmAt,
        int contextLength,
        MLstmLayerConfig mlstm,
        SLstmLayerConfig slstm,
        FeedForwardConfig feedforward,
        boolean tieWeights,
        boolean addPostBlocksNorm,
        boolean bias,
        float dropout)
        implements XLstmConfig {

    /** The architecture name in {@code config.json}. */
    public static final String ARCHITECTURE = "xlstm-neurips";

    /**
     * Validates the config: every value within its bound ({@link XLstmConfig}).
     *
     * @param vocabSize the vocabulary size V, in [1, {@link #MAX_VOCAB_SIZE}]
     * @param embeddingDim the model dimension D, in [1, {@link #MAX_EMBEDDING_DIM}]; the sections'
     *     {@code embeddingDim} must equal it
     * @param numBlocks the number of residual blocks, in [1, {@link #MAX_NUM_BLOCKS}]
     * @param slstmAt the (sorted, distinct) block indices in [0, numBlocks) that are sLSTM blocks;
     *     copied
     * @param contextLength the training context length, in [1, {@link #MAX_CONTEXT_LENGTH}]
     *     (informational)
     * @param mlstm the mLSTM layer config, null when every block is an sLSTM block
     * @param slstm the sLSTM layer config, null when {@code slstmAt} is empty
     * @param feedforward the gated feed-forward of the sLSTM blocks, null when {@code slstmAt} is
     *     empty
     * @param tieWeights whether the LM head shares the embedding matrix
     * @param addPostBlocksNorm whether a LayerNorm follows the last block
     * @param bias whether the linear layers have biases
     * @param dropout the dropout rate, in [0, 1)
     * @throws IllegalArgumentException if a value is outside its bound, a section is missing for
     *     blocks that need it, or a section's embedding dimension differs from {@code
     *     embeddingDim}; the message names the field and the value
     */
    public XLstmLmConfig {
        requireBounds(vocabSize, embeddingDim, numBlocks, contextLength, dropout);
        slstmAt = List.copyOf(slstmAt);
        for (int i = 0; i < slstmAt.size(); i++) {
            int at = slstmAt.get(i);
            ConfigMap.require(
                    at >= 0 && at < numBlocks,
                    "slstm_at position " + at + " is outside [0, num_blocks=" + numBlocks + ")");
            ConfigMap.require(i == 0 || at > slstmAt.get(i - 1), "slstm_at must be sorted and distinct: " + slstmAt);
        }
        ConfigMap.require(
                slstmAt.size() == numBlocks || mlstm != null,
                "config has mLSTM blocks (slstm_at " + slstmAt + " of " + numBlocks + " blocks) but no mlstm section");
        ConfigMap.require(
                slstmAt.isEmpty() || (slstm != null && feedforward != null),
                "config has sLSTM blocks at " + slstmAt + " but no slstm/feedforward section");
        ConfigMap.require(mlstm == null || mlstm.embeddingDim() == embeddingDim, "mlstm.embedding_dim != embedding_dim");
        ConfigMap.require(slstm == null || slstm.embeddingDim() == embeddingDim, "slstm.embedding_dim != embedding_dim");
        ConfigMap.require(
                feedforward == null || feedforward.embeddingDim() == embeddingDim,
                "feedforward.embedding_dim != embedding_dim");
    }

    /**
     * The bounds of the top-level values; {@link #from} checks them first too, before it expands
     * {@code slstm_at: all} into a list of every block and builds the sections from them.
     */
    private static void requireBounds(
            int vocabSize, int embeddingDim, int numBlocks, int contextLength, float dropout) {
        ConfigMap.requireIn("vocab_size", vocabSize, 1, MAX_VOCAB_SIZE);
        ConfigMap.requireIn("embedding_dim", embeddingDim, 1, MAX_EMBEDDING_DIM);
        ConfigMap.requireIn("num_blocks", numBlocks, 1, MAX_NUM_BLOCKS);
        ConfigMap.requireIn("context_length", contextLength, 1, MAX_CONTEXT_LENGTH);
        ConfigMap.requireRate("dropout", dropout);
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
        m.put("num_blocks", numBlocks);
        m.put("slstm_at", slstmAt);
        m.put("context_length", contextLength);
        if (mlstm != null) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("num_heads", mlstm.numHeads());
            s.put("proj_factor", mlstm.projFactor());
            s.put("round_proj_up_to_multiple_of", mlstm.roundUpToMultipleOf());
            s.put("qkv_proj_blocksize", mlstm.qkvProjBlocksize());
            s.put("conv1d_kernel_size", mlstm.conv1dKernelSize());
            m.put("mlstm", s);
        }
        if (slstm != null) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("num_heads", slstm.numHeads());
            s.put("conv1d_kernel_size", slstm.conv1dKernelSize());
            m.put("slstm", s);
            // what UpstreamCheckpoint.save writes (the layout is an import option, see ImportOptions)
            m.put("slstm_backend_layout", "cuda");
        }
        if (feedforward != null) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("proj_factor", feedforward.projFactor());
            s.put("act_fn", feedforward.actFn());
            s.put("round_proj_up_to_multiple_of", feedforward.roundUpToMultipleOf());
            m.put("feedforward", s);
        }
        m.put("tie_weights", tieWeights);
        m.put("add_post_blocks_norm", addPostBlocksNorm);
        m.put("bias", bias);
        m.put("dropout", ConfigMap.decimal(dropout));
        return m;
    }

    @Override
    public long parameterCount() {
        long d = embeddingDim;
        long n = (long) vocabSize * d; // token_embedding
        n += tieWeights ? 0 : d * vocabSize; // lm_head (no bias); a tied head is the embedding
        n += addPostBlocksNorm ? d : 0; // post_blocks_norm weight
        long slstmBlocks = slstmAt.size();
        long mlstmBlocks = numBlocks - slstmBlocks;
        if (mlstmBlocks > 0) {
            n += mlstmBlocks * (d + mlstm.parameterCount()); // xlstm_norm, xlstm
        }
        if (slstmBlocks > 0) { // xlstm_norm, xlstm, ffn_norm, ffn
            n += slstmBlocks * (d + slstm.parameterCount() + d + feedforward.parameterCount());
        }
        return n;
    }

    /**
     * Whether block {@code index} is an sLSTM block.
     *
     * @param index the block index
     * @return whether it is an sLSTM block
     */
    public boolean isSLstmBlock(int index) {
        return slstmAt.contains(index);
    }

    /**
     * Reads the upstream fields. Sections may be nested as in this project's {@code config.json}
     * ({@code mlstm}, {@code slstm}, {@code feedforward}) or as in upstream's dataclasses ({@code
     * mlstm_block.mlstm}, {@code slstm_block.slstm}, {@code slstm_block.feedforward}).
     */
    static XLstmLmConfig from(Map<String, Object> raw) {
        ConfigMap m = new ConfigMap("", raw);
        int vocabSize = m.requireInt("vocab_size");
        int numBlocks = m.requireInt("num_blocks");
        int dim = m.requireInt("embedding_dim");
        boolean bias = m.getBoolean("bias", false);
        float dropout = (float) m.getDouble("dropout", 0.0);
        int context = m.getInt("context_length", 256);
        requireBounds(vocabSize, dim, numBlocks, context, dropout);
        ConfigMap mlstmBlock = m.section("mlstm_block");
        ConfigMap slstmBlock = m.section("slstm_block");
        ConfigMap mlstm = m.has("mlstm") ? m.section("mlstm") : mlstmBlock == null ? null : mlstmBlock.section("mlstm");
        ConfigMap slstm = m.has("slstm") ? m.section("slstm") : slstmBlock == null ? null : slstmBlock.section("slstm");
        ConfigMap ffn =
                m.has("feedforward")
                        ? m.section("feedforward")
                        : slstmBlock == null ? null : slstmBlock.section("feedforward");
        List<Integer> slstmAt = readSlstmAt(m, numBlocks);
        boolean anyMlstm = slstmAt.size() < numBlocks;
        boolean anySlstm = !slstmAt.isEmpty();
        return new XLstmLmConfig(
                vocabSize,
                dim,
                numBlocks,
                slstmAt,
                context,
                anyMlstm || mlstm != null ? MLstmLayerConfig.from(mlstm, dim, bias, dropout, context) : null,
                anySlstm || slstm != null
                        ? SLstmLayerConfig.from(slstm, dim, dropout)
                        : null,
                anySlstm || ffn != null ? FeedForwardConfig.from(ffn, dim, bias, dropout) : null,
                m.getBoolean("tie_weights", false),
                m.getBoolean("add_post_blocks_norm", true),
                bias,
                dropout);
    }

    private static List<Integer> readSlstmAt(ConfigMap m, int numBlocks) {
        Object raw = m.raw("slstm_at");
        List<Integer> at = new ArrayList<>();
        if ("all".equals(raw)) {
            for (int i = 0; i < numBlocks; i++) {
                at.add(i);
            }
        } else if (raw != null) {
            for (Object o : m.getList("slstm_at")) {
                if (!(o instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
                    throw new IllegalArgumentException("config: slstm_at entries must be integers, got " + o);
                }
                at.add(n.intValue());
            }
        }
        Collections.sort(at);
        return at;
    }
}
