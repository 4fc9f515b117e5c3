/**
 * The sLSTM (scalar memory with memory mixing) of the NeurIPS paper: the cell, the layer and the
 * post-up-projection block ({@code blocks/slstm/*.py}).
 */
package ai.djl.xlstm.slstm;
