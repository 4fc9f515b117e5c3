package ai.djl.xlstm.slstm;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.xlstm.components.GatedFeedForward;
import ai.djl.xlstm.components.OffsetLayerNorm;
import ai.djl.xlstm.components.XLstmBlock;
import ai.djl.xlstm.config.FeedForwardConfig;
import ai.djl.xlstm.config.SLstmLayerConfig;
import ai.djl.xlstm.state.BlockState;
import ai.djl.xlstm.state.LayerState;

import java.util.Iterator;

/**
 * Upstream {@code blocks/slstm/block.py: sLSTMBlock}: the post-up-projection residual block
 * (paper Fig. 10): {@code x = x + slstm_layer(layer_norm(x))}, then {@code x = x +
 * gated_ffn(layer_norm(x))}.
 */
public class SLstmBlock extends XLstmBlock {

    private static final byte VERSION = 1;

    private final OffsetLayerNorm xlstmNorm;
    private final SLstmLayer xlstm;
    private final OffsetLayerNorm ffnNorm;
    private final GatedFeedForward ffn;

    /**
     * Creates the block for the sLSTM layer config and its feed-forward config, at position
     * {@code blockIndex} of {@code numBlocks} blocks.
     *
     * @param config the sLSTM layer config
     * @param feedforward the feed-forward config
     * @param blockIndex the block's index
     * @param numBlocks the number of blocks
     */
    public SLstmBlock(SLstmLayerConfig config, FeedForwardConfig feedforward, int blockIndex, int numBlocks) {
        super(VERSION);
        xlstmNorm = addChildBlock("xlstm_norm", new OffsetLayerNorm(config.embeddingDim(), 1e-5f));
        xlstm = addChildBlock("xlstm", new SLstmLayer(config, blockIndex, numBlocks));
        ffnNorm = addChildBlock("ffn_norm", new OffsetLayerNorm(config.embeddingDim(), 1e-5f));
        ffn = addChildBlock("ffn", new GatedFeedForward(feedforward, numBlocks));
    }

    @Override
    public Pair<NDArray, BlockState> forward(
            ParameterStore ps, NDArray x, BlockState state, boolean needState, boolean training) {
        Pair<NDArray, LayerState> out =
                xlstm.forward(ps, xlstmNorm.forward(ps, x, training), (LayerState) state, needState, training);
        NDArray h = x.add(out.getKey());
        h = h.add(ffn.forward(ps, ffnNorm.forward(ps, h, training), training));
        return new Pair<>(h, out.getValue());
    }

    @Override
    public BlockState zeroState(NDManager manager, Device device, long batch) {
        return xlstm.zeroState(manager, device, batch);
    }

    @Override
    public BlockState stateOf(Iterator<NDArray> tensors) {
        return xlstm.stateOf(tensors);
    }

    @Override
    public int stateSize() {
        return xlstm.stateSize();
    }

    @Override
    public boolean accepts(BlockState state) {
        return xlstm.accepts(state);
    }

}
