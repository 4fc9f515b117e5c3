/**
 * The building blocks shared by the xLSTM blocks, one class per upstream component ({@code
 * xlstm/components/*.py}, {@code xlstm_large/components.py}): causal convolution, headwise
 * projections, layer, multi-head and RMS norms, the feed-forward layers, the embedding, and the
 * base class and interface of blocks that carry recurrent state.
 */
package ai.djl.xlstm.components;
