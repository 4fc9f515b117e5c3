/**
 * Typed recurrent states: a causal-convolution window, the sLSTM (y, c, n, m) and mLSTM (C, n, m)
 * memories, per block and for a whole model ({@link ai.djl.xlstm.state.XLstmState}).
 */
package ai.djl.xlstm.state;
