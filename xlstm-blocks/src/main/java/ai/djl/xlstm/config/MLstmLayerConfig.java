package ai.djl.xlstm.config;

/**
 * Upstream {@code mLSTMLayerConfig} (NeurIPS): the pre-up-projection mLSTM layer.
 *
 * @param embeddingDim D, the block's input and output dimension
 * @param numHeads NH of the mLSTM cell
 * @param projFactor the up-projection factor; the inner dimension is {@code proj_factor * D}
 *     rounded up to {@code round_proj_up_to_multiple_of}
 * @param roundUpToMultipleOf the rounding multiple of the inner dimension (64)
 * @param qkvProjBlocksize the block size of the headwise q/k/v projections
 * @param conv1dKernelSize K of the causal convolution, 0 disables it
 * @param bias whether the up/down projections have biases
 * @param dropout the dropout rate after the down-projection
 * @param contextLength the training context length (informational; nothing depends on it)
 */
public record MLstmLayerConfig(
        int embeddingDim,
        int numHeads,
        double projFactor,
        int roundUpToMultipleOf,
        int qkvProjBlocksize,
        int conv1dKernelSize,
        boolean bias,
        float dropout,
        int contextLength) {

    /** Validates the config. */
    public MLstmLayerConfig {
        ConfigMap.require(embeddingDim > 0, "mlstm: embedding_dim must be > 0, got " + embeddingDim);
        ConfigMap.require(numHeads > 0, "mlstm: num_heads must be > 0, got " + numHeads);
        ConfigMap.require(projFactor > 0, "mlstm: proj_factor must be > 0, got " + projFactor);
        ConfigMap.require(roundUpToMultipleOf > 0, "mlstm: round_proj_up_to_multiple_of must be > 0");
        ConfigMap.require(qkvProjBlocksize > 0, "mlstm: qkv_proj_blocksize must be > 0");
        ConfigMap.require(conv1dKernelSize >= 0, "mlstm: conv1d_kernel_size must be >= 0, got " + conv1dKernelSize);
        ConfigMap.require(dropout >= 0 && dropout < 1, "mlstm: dropout must be in [0, 1)");
        int inner = ConfigMap.roundUpToMultiple(projFactor * embeddingDim, roundUpToMultipleOf);
        ConfigMap.require(
                inner % numHeads == 0,
                "mlstm: num_heads " + numHeads + " must divide the inner dimension " + inner);
        ConfigMap.require(
                inner % qkvProjBlocksize == 0,
                "mlstm: qkv_proj_blocksize " + qkvProjBlocksize + " must divide the inner dimension " + inner);
    }

    /** The inner (up-projected) dimension. */
    public int innerDim() {
        return ConfigMap.roundUpToMultiple(projFactor * embeddingDim, roundUpToMultipleOf);
    }

    /** The head dimension DH of the mLSTM cell. */
    public int headDim() {
        return innerDim() / numHeads;
    }

    static MLstmLayerConfig from(ConfigMap m, int embeddingDim, boolean bias, float dropout, int contextLength) {
        ConfigMap c = m == null ? new ConfigMap("mlstm", null) : m;
        return new MLstmLayerConfig(
                embeddingDim,
                c.getInt("num_heads", 4),
                c.getDouble("proj_factor", 2.0),
                c.getInt("round_proj_up_to_multiple_of", 64),
                c.getInt("qkv_proj_blocksize", 4),
                c.getInt("conv1d_kernel_size", 4),
                c.getBoolean("bias", bias),
                (float) c.getDouble("dropout", dropout),
                c.getInt("context_length", contextLength));
    }
}
