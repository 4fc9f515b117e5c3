/**
 * The language models: the block stack and the two architectures (NeurIPS {@code xLSTMLMModel},
 * {@code xLSTMLarge}) behind one {@link ai.djl.xlstm.model.XLstmLanguageModel}.
 */
package ai.djl.xlstm.model;
