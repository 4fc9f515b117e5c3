package ai.djl.xlstm.config;

/**
 * Upstream {@code mLSTMLayerConfig} (NeurIPS): the pre-up-projection mLSTM layer.
 *
 * @param embeddingDim D, the block's input and output dimension, in [1, {@link
 *     XLstmConfig#MAX_EMBEDDING_DIM}]
 * @param numHeads NH of the mLSTM cell, in [1, D]; it must divide the inner dimension
 * @param projFactor the up-projection factor, in (0, {@link XLstmConfig#MAX_PROJ_FACTOR}]; the
 *     inner dimension is {@code proj_factor * D} rounded up to {@code round_proj_up_to_multiple_of}
 * @param roundUpToMultipleOf the rounding multiple of the inner dimension (upstream 64), in [1,
 *     {@link XLstmConfig#MAX_ROUND_UP_TO_MULTIPLE_OF}]
 * @param qkvProjBlocksize the block size of the headwise q/k/v projections, in [1, inner
 *     dimension]; it must divide the inner dimension
 * @param conv1dKernelSize K of the causal convolution, in [0, {@link
 *     XLstmConfig#MAX_CONV1D_KERNEL_SIZE}]; 0 disables it
 * @param bias whether the up/down projections have biases
 * @param dropout the dropout rate after the down-projection, in [0, 1)
 * @param contextLength the training context length, in [1, {@link XLstmConfig#MAX_CONTEXT_LENGTH}]
 *     (informational; nothing depends on it)
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

    /**
     * Validates the config: every value within its bound ({@link XLstmConfig}).
     *
     * @param embeddingDim D, the block's input and output dimension, in [1, {@link
     *     XLstmConfig#MAX_EMBEDDING_DIM}]
     * @param numHeads NH of the mLSTM cell, in [1, D]; it must divide the inner dimension
     * @param projFactor the up-projection factor, in (0, {@link XLstmConfig#MAX_PROJ_FACTOR}]; the
     *     inner dimension is {@code proj_factor * D} rounded up to {@code
     *     round_proj_up_to_multiple_of}
     * @param roundUpToMultipleOf the rounding multiple of the inner dimension (upstream 64), in [1,
     *     {@link XLstmConfig#MAX_ROUND_UP_TO_MULTIPLE_OF}]
     * @param qkvProjBlocksize the block size of the headwise q/k/v projections, in [1, inner
     *     dimension]; it must divide the inner dimension
     * @param conv1dKernelSize K of the causal convolution, in [0, {@link
     *     XLstmConfig#MAX_CONV1D_KERNEL_SIZE}]; 0 disables it
     * @param bias whether the up/down projections have biases
     * @param dropout the dropout rate after the down-projection, in [0, 1)
     * @param contextLength the training context length, in [1, {@link
     *     XLstmConfig#MAX_CONTEXT_LENGTH}] (informational; nothing depends on it)
     * @throws IllegalArgumentException if a value is outside its bound or the values do not fit
     *     together as described above; the message names the field and the value
     */
    public MLstmLayerConfig {
        ConfigMap.requireIn("mlstm.embedding_dim", embeddingDim, 1, XLstmConfig.MAX_EMBEDDING_DIM);
        ConfigMap.requireIn("mlstm.num_heads", numHeads, 1, embeddingDim);
        ConfigMap.requirePositiveAtMost("mlstm.proj_factor", projFactor, XLstmConfig.MAX_PROJ_FACTOR);
        ConfigMap.requireIn(
                "mlstm.round_proj_up_to_multiple_of", roundUpToMultipleOf, 1, XLstmConfig.MAX_ROUND_UP_TO_MULTIPLE_OF);
        ConfigMap.requireIn("mlstm.conv1d_kernel_size", conv1dKernelSize, 0, XLstmConfig.MAX_CONV1D_KERNEL_SIZE);
        ConfigMap.requireRate("mlstm.dropout", dropout);
        ConfigMap.requireIn("mlstm.context_length", contextLength, 1, XLstmConfig.MAX_CONTEXT_LENGTH);
        int inner = ConfigMap.roundUpToMultiple(projFactor * embeddingDim, roundUpToMultipleOf);
        ConfigMap.requireIn("mlstm.qkv_proj_blocksize", qkvProjBlocksize, 1, inner);
        ConfigMap.require(
                inner % numHeads == 0,
                "mlstm: num_heads " + numHeads + " must divide the inner dimension " + inner);
        ConfigMap.require(
                inner % qkvProjBlocksize == 0,
                "mlstm: qkv_proj_blocksize " + qkvProjBlocksize + " must divide the inner dimension " + inner);
    }

    /**
     * The inner (up-projected) dimension.
     *
     * @return the inner dimension
     */
    public int innerDim() {
        return ConfigMap.roundUpToMultiple(projFactor * embeddingDim, roundUpToMultipleOf);
    }

    /**
     * The head dimension DH of the mLSTM cell.
     *
     * @return DH
     */
    public int headDim() {
        return innerDim() / numHeads;
    }

    /**
     * The number of parameter elements of one layer ({@code MLstmLayer}; the block's {@code
     * xlstm_norm} is not part of it).
     *
     * @return the parameter element count
     */
    public long parameterCount() {
        long d = embeddingDim;
        long inner = innerDim();
        long heads = numHeads;
        long n = d * 2 * inner + (bias ? 2 * inner : 0); // proj_up
        n += 3 * inner * qkvProjBlocksize; // q_proj, k_proj, v_proj: inner / blocksize heads of blocksize^2
        n += conv1dKernelSize > 0 ? inner * conv1dKernelSize + inner : 0; // conv1d weight, bias
        n += 2 * (3 * inner * heads + heads); // mlstm_cell igate, fgate (with bias)
        n += inner; // mlstm_cell.outnorm weight
        n += inner; // learnable_skip
        n += inner * d + (bias ? d : 0); // proj_down
        return n;
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
