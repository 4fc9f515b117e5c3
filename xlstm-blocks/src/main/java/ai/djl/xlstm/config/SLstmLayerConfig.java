package ai.djl.xlstm.config;

/**
 * Upstream {@code sLSTMLayerConfig} (NeurIPS): the sLSTM layer of the post-up-projection block.
 *
 * @param embeddingDim D, which is also the hidden size of the cell, in [1, {@link
 *     XLstmConfig#MAX_EMBEDDING_DIM}]
 * @param numHeads NH, in [1, D], a divisor of D; the recurrent matrices are block-diagonal with NH
 *     blocks
 * @param conv1dKernelSize K of the causal convolution feeding the i and f gates, in [0, {@link
 *     XLstmConfig#MAX_CONV1D_KERNEL_SIZE}]; 0 disables it
 * @param dropout the dropout rate on the cell output, in [0, 1)
 */
public record SLstmLayerConfig(
        int embeddingDim, int numHeads, int conv1dKernelSize, float dropout) {

    /**
     * Validates the config: every value within its bound ({@link XLstmConfig}).
     *
     * @param embeddingDim D, which is also the hidden size of the cell, in [1, {@link
     *     XLstmConfig#MAX_EMBEDDING_DIM}]
     * @param numHeads NH, in [1, D], a divisor of D; the recurrent matrices are block-diagonal with
     *     NH blocks
     * @param conv1dKernelSize K of the causal convolution feeding the i and f gates, in [0, {@link
     *     XLstmConfig#MAX_CONV1D_KERNEL_SIZE}]; 0 disables it
     * @param dropout the dropout rate on the cell output, in [0, 1)
     * @throws IllegalArgumentException if a value is outside its bound or the values do not fit
     *     together as described above; the message names the field and the value
     */
    public SLstmLayerConfig {
        ConfigMap.requireIn("slstm.embedding_dim", embeddingDim, 1, XLstmConfig.MAX_EMBEDDING_DIM);
        ConfigMap.requireIn("slstm.num_heads", numHeads, 1, embeddingDim);
        ConfigMap.require(
                embeddingDim % numHeads == 0,
                "slstm: num_heads " + numHeads + " must divide embedding_dim " + embeddingDim);
        ConfigMap.requireIn("slstm.conv1d_kernel_size", conv1dKernelSize, 0, XLstmConfig.MAX_CONV1D_KERNEL_SIZE);
        ConfigMap.requireRate("slstm.dropout", dropout);
    }

    /**
     * The head dimension DH.
     *
     * @return DH
     */
    public int headDim() {
        return embeddingDim / numHeads;
    }

    /**
     * The number of parameter elements of one layer ({@code SLstmLayer}; the block's norms and
     * feed-forward are not part of it).
     *
     * @return the parameter element count
     */
    public long parameterCount() {
        long d = embeddingDim;
        long dh = headDim();
        long n = conv1dKernelSize > 0 ? d * conv1dKernelSize + d : 0; // conv1d weight, bias
        n += 4 * d * dh; // fgate, igate, zgate, ogate: num_heads heads of DH x DH
        n += 4 * d * dh + 4 * d; // slstm_cell _recurrent_kernel_ [NH, DH, 4 DH], _bias_ [4 D]
        n += d; // group_norm weight
        return n;
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
