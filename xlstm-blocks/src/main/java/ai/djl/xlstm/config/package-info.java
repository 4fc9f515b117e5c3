/**
 * Model configs: validated records mirroring upstream's config dataclasses, read from upstream
 * {@code config.json} / {@code config.yaml} (and Hugging Face {@code xLSTMConfig}) and written back
 * with upstream field names ({@link ai.djl.xlstm.config.ConfigFiles}).
 */
package ai.djl.xlstm.config;
