package ai.djl.xlstm.slstm;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.xlstm.components.AbstractXLstmBlock;
import ai.djl.xlstm.components.CausalConv1d;
import ai.djl.xlstm.internal.Inits;
import ai.djl.xlstm.components.LinearHeadwiseExpand;
import ai.djl.xlstm.components.MultiHeadLayerNorm;
import ai.djl.xlstm.internal.TensorOps;
import ai.djl.xlstm.config.SLstmLayerConfig;
import ai.djl.xlstm.state.BlockState;
import ai.djl.xlstm.state.LayerState;

import java.util.Iterator;
import ai.djl.xlstm.state.SLstmCellState;

/**
 * Upstream {@code blocks/slstm/layer.py: sLSTMLayer}: an optional causal convolution with SiLU
 * feeds the input and forget gate projections, the cell-input and output gate projections see the
 * raw input, all four are headwise (block-diagonal) linear maps, and a multi-head group norm
 * normalizes the cell output.
 *
 * <p>Upstream quirk, reproduced: {@code sLSTMLayer.forward} fills the cell's first (input gate)
 * slot with the {@code fgate} projection and the second (forget gate) slot with {@code igate}. The
 * parameter names therefore do not say which gate they drive; the computation matches upstream's.
 *
 * <p>Shapes: {@code [B, S, D] -> [B, S, D]}; state: conv window {@code [B, K - 1, D]} and the cell
 * state.
 */
final class SLstmLayer extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final SLstmLayerConfig config;
    private final CausalConv1d conv1d;
    private final LinearHeadwiseExpand fgate;
    private final LinearHeadwiseExpand igate;
    private final LinearHeadwiseExpand zgate;
    private final LinearHeadwiseExpand ogate;
    private final SLstmCell slstmCell;
    private final MultiHeadLayerNorm groupNorm;

    /**
     * Creates the layer for {@code config} at {@code blockIndex} of {@code numBlocks} blocks.
     *
     * @param config the layer config
     * @param blockIndex the block's index
     * @param numBlocks the number of blocks
     */
    public SLstmLayer(SLstmLayerConfig config, int blockIndex, int numBlocks) {
        super(VERSION);
        this.config = config;
        int dim = config.embeddingDim();
        int heads = config.numHeads();
        conv1d = addChildBlock("conv1d", new CausalConv1d(dim, config.conv1dKernelSize()));
        fgate = addChildBlock("fgate", new LinearHeadwiseExpand(dim, heads, 1, Inits.small(dim)));
        igate = addChildBlock("igate", new LinearHeadwiseExpand(dim, heads, 1, Inits.small(dim)));
        zgate = addChildBlock("zgate", new LinearHeadwiseExpand(dim, heads, 1, Inits.small(dim)));
        ogate = addChildBlock("ogate", new LinearHeadwiseExpand(dim, heads, 1, Inits.small(dim)));
        slstmCell = addChildBlock("slstm_cell", new SLstmCell(dim, heads, blockIndex, numBlocks));
        groupNorm = addChildBlock("group_norm", new MultiHeadLayerNorm(heads, dim, 1e-5f, true, false));
    }

    /**
     * Runs the layer from {@code state} (null: zero state).
     *
     * @param ps the parameter store
     * @param x the input {@code [B, S, D]}
     * @param state the state to start from, or null
     * @param needState whether to return the state after the last position
     * @param training whether in training mode
     * @return the output {@code [B, S, D]} and the new state (null unless {@code needState})
     */
    public Pair<NDArray, LayerState> forward(
            ParameterStore ps, NDArray x, LayerState state, boolean needState, boolean training) {
        Pair<NDArray, NDArray> conv =
                conv1d.forward(ps, x, state == null ? null : state.convWindow(), training);
        NDArray xc = config.conv1dKernelSize() > 0 ? TensorOps.silu(conv.getKey()) : x;
        NDArray wx =
                NDArrays.concat(
                        new NDList(
                                fgate.forward(ps, xc, training), // the cell's i slot (see class doc)
                                igate.forward(ps, xc, training), // the cell's f slot
                                zgate.forward(ps, x, training),
                                ogate.forward(ps, x, training)),
                        2); // [B, S, 4 * D]
        Pair<NDArray, SLstmCellState> cell =
                slstmCell.forward(ps, wx, state == null ? null : (SLstmCellState) state.cell(), training);
        NDArray y = cell.getKey(); // [B, NH, S, DH]
        if (training && config.dropout() > 0) {
            y = Dropout.dropout(y, config.dropout(), true).singletonOrThrow();
        }
        NDArray out = groupNorm.forward(ps, y, training); // [B, S, D]
        return new Pair<>(out, needState ? new LayerState(conv.getValue(), cell.getValue()) : null);
    }

    /**
     * The zero state: a zero conv window and the cell's zero state.
     *
     * @param manager the manager of the state's arrays
     * @param device their device
     * @param batch the batch size
     * @return the zero state
     */
    public LayerState zeroState(NDManager manager, Device device, long batch) {
        return new LayerState(
                conv1d.zeroWindow(manager, device, batch), slstmCell.zeroState(manager, device, batch));
    }

    /**
     * Rebuilds a state from its tensors.
     *
     * @param t the tensors, consumed in order
     * @return the state
     */
    public LayerState stateOf(Iterator<NDArray> t) {
        NDArray window = conv1d.getKernelSize() > 0 ? t.next() : null;
        return new LayerState(window, new SLstmCellState(t.next(), t.next(), t.next(), t.next()));
    }

    /**
     * How many tensors {@link #stateOf} takes.
     *
     * @return the conv window (if any) and the cell's y, c, n, m: 4 or 5
     */
    public int stateSize() {
        return (conv1d.getKernelSize() > 0 ? 1 : 0) + 4;
    }

    /**
     * Whether {@code state} has this layer's structure.
     *
     * @param state a state
     * @return whether this layer accepts it
     */
    public boolean accepts(BlockState state) {
        return state instanceof LayerState ls
                && ls.cell() instanceof SLstmCellState
                && (ls.convWindow() != null) == (conv1d.getKernelSize() > 0);
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        return forward(ps, x, null, false, training).getKey();
    }
}
