package ai.djl.xlstm.config;

/**
 * Upstream {@code sLSTMLayerConfig} (NeurIPS): the sLSTM layer of the post-up-projection block.
 *
 * @param embeddingDim D, which is also the hidden size of the cell
 * @param numHeads NH; the recurrent matrices are block-diagonal with NH blocks
 * @param conv1dKernelSize K of the causal convolution feeding the i and f gates, 0 disables it
 * @param backendLayout the layout of the stored recurrent kernel and bias: {@code cuda} (the
 *     default of upstream models trained on a GPU) or {@code vanilla}
 * @param dropout the dropout rate on the cell output
 */
public record SLstmLayerConfig(
        int embeddingDim, int numHeads, int conv1dKernelSize, String backendLayout, float dropout) {

    /** Validates the config. */
    public SLstmLayerConfig {
        ConfigMap.require(embeddingDim > 0, "slstm: embedding_dim must be > 0, got " + embeddingDim);
        ConfigMap.require(numHeads > 0, "slstm: num_heads must be > 0, got " + numHeads);
        ConfigMap.require(
                embeddingDim % numHeads == 0,
                "slstm: num_heads " + numHeads + " must divide embedding_dim " + embeddingDim);
        ConfigMap.require(conv1dKernelSize >= 0, "slstm: conv1d_kernel_size must be >= 0, got " + conv1dKernelSize);
        ConfigMap.require(
                "cuda".equals(backendLayout) || "vanilla".equals(backendLayout),
                "slstm: backend layout must be 'cuda' or 'vanilla', got '" + backendLayout + "'");
        ConfigMap.require(dropout >= 0 && dropout < 1, "slstm: dropout must be in [0, 1)");
    }

    /** The head dimension DH. */
    public int headDim() {
        return embeddingDim / numHeads;
    }

    static SLstmLayerConfig from(ConfigMap m, int embeddingDim, float dropout, String layout) {
        ConfigMap c = m == null ? new ConfigMap("slstm", null) : m;
        return new SLstmLayerConfig(
                embeddingDim,
                c.getInt("num_heads", 4),
                c.getInt("conv1d_kernel_size", 4),
                layout != null ? layout : c.getString("backend", "cuda"),
                (float) c.getDouble("dropout", dropout));
    }
}
