package ai.djl.xlstm.mlstm;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.xlstm.components.OffsetLayerNorm;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.components.XLstmBlock;
import ai.djl.xlstm.config.MLstmLayerConfig;
import ai.djl.xlstm.state.BlockState;
import ai.djl.xlstm.state.LayerState;

import java.util.Iterator;

/**
 * Upstream {@code blocks/mlstm/block.py: mLSTMBlock} (a {@code xLSTMBlock} without
 * feed-forward): the pre-up-projection residual block {@code x + mlstm_layer(layer_norm(x))}.
 */
public class MLstmBlock extends XLstmBlock {

    private static final byte VERSION = 1;

    private final OffsetLayerNorm xlstmNorm;
    private final MLstmLayer xlstm;

    /**
     * Creates the block for {@code config} in a stack of {@code numBlocks} blocks.
     *
     * @param config the mLSTM layer config
     * @param numBlocks the number of blocks
     */
    public MLstmBlock(MLstmLayerConfig config, int numBlocks) {
        super(VERSION);
        xlstmNorm = addChildBlock("xlstm_norm", new OffsetLayerNorm(config.embeddingDim(), 1e-5f));
        xlstm = addChildBlock("xlstm", new MLstmLayer(config, numBlocks));
    }

    @Override
    public Pair<NDArray, BlockState> forward(
            ParameterStore ps, NDArray x, BlockState state, boolean needState, boolean training) {
        Pair<NDArray, LayerState> out =
                xlstm.forward(ps, xlstmNorm.forward(ps, x, training), (LayerState) state, needState, training);
        return new Pair<>(x.add(out.getKey()), out.getValue());
    }

    @Override
    public void setForm(MLstmForm form) {
        xlstm.setForm(form);
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
