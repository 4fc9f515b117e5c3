/**
 * Model configs: validated records mirroring upstream's config dataclasses ({@link
 * ai.djl.xlstm.config.XLstmLmConfig} for the NeurIPS model, {@link
 * ai.djl.xlstm.config.XLstmLargeConfig} for xLSTM Large), read from upstream {@code config.json} /
 * {@code config.yaml} (and Hugging Face {@code xLSTMConfig}) and written back with upstream field
 * names through their common interface {@link ai.djl.xlstm.config.XLstmConfig}.
 */
package ai.djl.xlstm.config;
