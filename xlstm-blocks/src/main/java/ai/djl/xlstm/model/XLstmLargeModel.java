package ai.djl.xlstm.model;

import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.components.MLstmForm;

/**
 * Upstream {@code xlstm_large/model.py: xLSTMLarge} (the xLSTM 7B architecture): {@code
 * embedding}, {@code backbone} (mLSTM blocks and {@code out_norm}), {@code lm_head}, and the logits
 * soft-capped at {@code output_logit_soft_cap}.
 *
 * <p>Over whole sequences the cells run as upstream's inference mode does: chunkwise with {@code
 * chunk_size}, the remainder through the recurrent step.
 */
final class XLstmLargeModel extends XLstmLanguageModel {

    private static final byte VERSION = 1;

    /** Creates the model of {@code config}. */
    public XLstmLargeModel(XLstmLargeConfig config) {
        super(
                VERSION, config, "embedding", "backbone", XLstmBlockStack.large(config), false,
                config.outputLogitSoftCap(),
                MLstmForm.inference(config.chunkSize()));
    }

    @Override
    public XLstmLargeConfig getConfig() {
        return (XLstmLargeConfig) super.getConfig();
    }
}
