/**
 * The formal-language experiments of the xLSTM paper (parity, even pairs, cycle navigation, modular
 * arithmetic, MQAR): data, evaluation, the LSTM baseline and the experiment runner.
 */
package ai.djl.xlstm.examples.formal;
