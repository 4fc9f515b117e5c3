package ai.djl.xlstm.model;

import ai.djl.xlstm.config.XLstmLmConfig;
import ai.djl.xlstm.components.MLstmForm;

/**
 * Upstream {@code xlstm_lm_model.py: xLSTMLMModel} (the NeurIPS paper's language model): {@code
 * token_embedding}, {@code xlstm_block_stack} (xLSTM[a:b]), {@code lm_head}, the head optionally
 * tied to the embedding.
 *
 * <p>Over whole sequences the mLSTM cells use the parallel form when no state is needed (as
 * upstream's forward does) and the chunkwise form (chunks of 64) when a state is carried.
 */
final class XLstmLmModel extends XLstmLanguageModel {

    private static final byte VERSION = 1;

    /** Creates the model of {@code config}. */
    public XLstmLmModel(XLstmLmConfig config) {
        super(
                VERSION, config, "token_embedding", "xlstm_block_stack", XLstmBlockStack.neurips(config),
                config.tieWeights(), 0f, MLstmForm.DEFAULT);
    }

    @Override
    public XLstmLmConfig getConfig() {
        return (XLstmLmConfig) super.getConfig();
    }
}
