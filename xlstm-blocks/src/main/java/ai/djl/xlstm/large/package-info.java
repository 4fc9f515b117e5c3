/**
 * The xLSTM Large (xLSTM 7B) architecture's mLSTM layer and block ({@code
 * xlstm_large/model.py}).
 */
package ai.djl.xlstm.large;
