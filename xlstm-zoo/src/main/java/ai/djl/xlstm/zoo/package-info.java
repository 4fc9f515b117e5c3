/**
 * The DJL face of xLSTM: the model zoo of group id {@code ai.djl.xlstm} ({@link
 * ai.djl.xlstm.zoo.XLstmModelZoo}), the block and translator factories that load any xLSTM
 * checkpoint folder through {@code Criteria}, the translators, and the Hugging Face text codec.
 */
package ai.djl.xlstm.zoo;
