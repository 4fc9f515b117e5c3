/**
 * The mLSTM (matrix memory) of the NeurIPS paper: kernels for the parallel, chunkwise and recurrent
 * forms, the cell, the layer and the pre-up-projection block ({@code blocks/mlstm/*.py}).
 */
package ai.djl.xlstm.mlstm;
