/** The classical LSTM language model baseline of the xLSTM comparison, and its experiment. */
package ai.djl.xlstm.examples.baseline;
