package ai.djl.xlstm.config;

/**
 * Upstream {@code sLSTMLayerConfig} (NeurIPS): the sLSTM layer of the post-up-projection block.
 *
 * @param embeddingDim D, which is also the hidden size of the cell
 * @param numHeads NH; the recurrent matrices are block-diagonal with NH blocks
 * @param conv1dKernelSize K of the causal convolution feeding the i and f gates, 0 disables it
 * @param dropout the dropout rate on the cell output
 */
public record SLstmLayerConfig(
        int embeddingDim, int numHeads, int conv1dKernelSize, float dropout) {

    /** Validates the config. */
    public SLstmLayerConfig {
        ConfigMap.require(embeddingDim > 0, "slstm: embedding_dim must be > 0, got " + embeddingDim);
        ConfigMap.require(numHeads > 0, "slstm: num_heads must be > 0, got " + numHeads);
        ConfigMap.require(
                embeddingDim % numHeads == 0,
                "slstm: num_heads " + numHeads + " must divide embedding_dim " + embeddingDim);
        ConfigMap.require(conv1dKernelSize >= 0, "slstm: conv1d_kernel_size must be >= 0, got " + conv1dKernelSize);
        ConfigMap.require(dropout >= 0 && dropout < 1, "slstm: dropout must be in [0, 1)");
    }

    /** The head dimension DH. */
    public int headDim() {
        return embeddingDim / numHeads;
    }

    static SLstmLayerConfig from(ConfigMap m, int embeddingDim, float dropout) {
        ConfigMap c = m == null ? new ConfigMap("slstm", null) : m;
        return new SLstmLayerConfig(
                embeddingDim,
                c.getInt("num_heads", 4),
                c.getInt("conv1d_kernel_size", 4),
                (float) c.getDouble("dropout", dropout));
    }
}
