package ai.djl.xlstm.large;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.xlstm.components.XLstmBlock;
import ai.djl.xlstm.components.RmsNorm;
import ai.djl.xlstm.components.SwiGluFeedForward;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.state.BlockState;
import ai.djl.xlstm.state.MLstmCellState;

import java.util.Iterator;

/**
 * Upstream {@code xlstm_large/model.py: mLSTMBlock}: {@code x = x + mlstm_layer(rms_norm(x))},
 * then {@code x = x + swiglu_ffn(rms_norm(x))}.
 */
public class XLstmLargeBlock extends XLstmBlock {

    private static final byte VERSION = 1;

    private final XLstmLargeConfig config;
    private final RmsNorm normMlstm;
    private final MLstmLargeLayer mlstmLayer;
    private final RmsNorm normFfn;
    private final SwiGluFeedForward ffn;

    /**
     * Creates the block for {@code config}.
     *
     * @param config the model config
     */
    public XLstmLargeBlock(XLstmLargeConfig config) {
        super(VERSION);
        this.config = config;
        int d = config.embeddingDim();
        normMlstm = addChildBlock("norm_mlstm", new RmsNorm(d, config.normEps(), config.useBias()));
        mlstmLayer = addChildBlock("mlstm_layer", new MLstmLargeLayer(config));
        normFfn = addChildBlock("norm_ffn", new RmsNorm(d, config.normEps(), config.useBias()));
        ffn = addChildBlock("ffn", new SwiGluFeedForward(d, config.ffnUpDim(), config.useBias(), config.numBlocks()));
    }

    @Override
    public Pair<NDArray, BlockState> forward(
            ParameterStore ps, NDArray x, BlockState state, boolean needState, boolean training) {
        Pair<NDArray, MLstmCellState> out =
                mlstmLayer.forward(
                        ps, normMlstm.forward(ps, x, training), (MLstmCellState) state, needState,
                        training);
        NDArray h = x.add(out.getKey());
        h = h.add(ffn.forward(ps, normFfn.forward(ps, h, training), training));
        return new Pair<>(h, out.getValue());
    }

    @Override
    public void setForm(MLstmForm form) {
        mlstmLayer.setForm(form);
    }

    @Override
    public BlockState zeroState(NDManager manager, Device device, long batch) {
        return mlstmLayer.zeroState(manager, device, batch);
    }

    @Override
    public BlockState stateOf(Iterator<NDArray> t) {
        return new MLstmCellState(t.next(), t.next(), t.next());
    }

    @Override
    public int stateSize() {
        return 3;
    }

    @Override
    public boolean accepts(BlockState state) {
        return state instanceof MLstmCellState;
    }

}
