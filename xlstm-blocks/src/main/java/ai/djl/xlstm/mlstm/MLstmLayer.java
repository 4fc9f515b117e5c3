package ai.djl.xlstm.mlstm;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.Pair;
import ai.djl.xlstm.components.AbstractXLstmBlock;
import ai.djl.xlstm.components.CausalConv1d;
import ai.djl.xlstm.internal.Inits;
import ai.djl.xlstm.components.LinearHeadwiseExpand;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.internal.TensorOps;
import ai.djl.xlstm.config.MLstmLayerConfig;
import ai.djl.xlstm.state.BlockState;
import ai.djl.xlstm.state.LayerState;
import ai.djl.xlstm.state.MLstmCellState;
import ai.djl.xlstm.internal.MLstmKernels;

import java.util.Iterator;

/**
 * Upstream {@code blocks/mlstm/layer.py: mLSTMLayer} (NeurIPS, paper Fig. 11): the
 * pre-up-projection mLSTM layer.
 *
 * <pre>
 *   x_m, z = split(proj_up(x))                     inner dimension E each
 *   x_c    = silu(conv1d(x_m))
 *   q, k   = q_proj(x_c), k_proj(x_c);  v = v_proj(x_m)     headwise, block size qkv_proj_blocksize
 *   h      = mlstm_cell(q, k, v) + learnable_skip * x_c
 *   y      = proj_down(h * silu(z))
 * </pre>
 *
 * <p>Shapes: {@code [B, S, D] -> [B, S, D]}; state: conv window {@code [B, K - 1, E]} and the
 * cell memory.
 */
final class MLstmLayer extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final MLstmLayerConfig config;
    private final Linear projUp;
    private final LinearHeadwiseExpand qProj;
    private final LinearHeadwiseExpand kProj;
    private final LinearHeadwiseExpand vProj;
    private final CausalConv1d conv1d;
    private final MLstmCell mlstmCell;
    private final Parameter learnableSkip;
    private final Linear projDown;

    /**
     * Creates the layer for {@code config} in a stack of {@code numBlocks} blocks.
     *
     * @param config the layer config
     * @param numBlocks the number of blocks
     */
    public MLstmLayer(MLstmLayerConfig config, int numBlocks) {
        super(VERSION);
        this.config = config;
        int inner = config.innerDim();
        int projHeads = inner / config.qkvProjBlocksize();
        int d = config.embeddingDim();
        projUp = addLinear("proj_up", d, 2L * inner, config.bias(), Inits.small(d), null);
        qProj = addChildBlock("q_proj", new LinearHeadwiseExpand(inner, projHeads, 1, Inits.small(inner)));
        kProj = addChildBlock("k_proj", new LinearHeadwiseExpand(inner, projHeads, 1, Inits.small(inner)));
        vProj = addChildBlock("v_proj", new LinearHeadwiseExpand(inner, projHeads, 1, Inits.small(inner)));
        conv1d = addChildBlock("conv1d", new CausalConv1d(inner, config.conv1dKernelSize()));
        mlstmCell = addChildBlock("mlstm_cell", new MLstmCell(inner, config.numHeads()));
        learnableSkip =
                addParameter("learnable_skip", Parameter.Type.WEIGHT, new Shape(inner), Initializer.ONES);
        projDown = addLinear("proj_down", inner, d, config.bias(), Inits.wang(inner, numBlocks), null);
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
        NDList xz = apply(ps, projUp, x, training).split(2, x.getShape().dimension() - 1);
        NDArray xm = xz.get(0); // [B, S, E]
        NDArray z = xz.get(1);
        Pair<NDArray, NDArray> conv =
                conv1d.forward(ps, xm, state == null ? null : state.convWindow(), training);
        NDArray xc = TensorOps.silu(conv.getKey());
        NDArray q = qProj.forward(ps, xc, training);
        NDArray k = kProj.forward(ps, xc, training);
        NDArray v = vProj.forward(ps, xm, training);
        Pair<NDArray, MLstmCellState> cell =
                mlstmCell.forward(
                        ps, q, k, v, state == null ? null : (MLstmCellState) state.cell(),
                        needState, training);
        NDArray h = cell.getKey().add(xc.mul(value(ps, learnableSkip, x, training)));
        NDArray y = apply(ps, projDown, h.mul(TensorOps.silu(z)), training);
        if (training && config.dropout() > 0) {
            y = Dropout.dropout(y, config.dropout(), true).singletonOrThrow();
        }
        return new Pair<>(y, needState ? new LayerState(conv.getValue(), cell.getValue()) : null);
    }

    /**
     * The zero state: a zero conv window and an empty memory.
     *
     * @param manager the manager of the state's arrays
     * @param device their device
     * @param batch the batch size
     * @return the zero state
     */
    public LayerState zeroState(NDManager manager, Device device, long batch) {
        long dh = config.headDim();
        return new LayerState(
                conv1d.zeroWindow(manager, device, batch),
                MLstmKernels.zeroState(manager, device, batch, config.numHeads(), dh, dh));
    }

    /**
     * Rebuilds a state from its tensors.
     *
     * @param t the tensors, consumed in order
     * @return the state
     */
    public LayerState stateOf(Iterator<NDArray> t) {
        NDArray window = conv1d.getKernelSize() > 0 ? t.next() : null;
        return new LayerState(window, new MLstmCellState(t.next(), t.next(), t.next()));
    }

    /**
     * How many tensors {@link #stateOf} takes.
     *
     * @return the conv window (if any) and the cell's C, n, m: 3 or 4
     */
    public int stateSize() {
        return (conv1d.getKernelSize() > 0 ? 1 : 0) + 3;
    }

    /**
     * Whether {@code state} has this layer's structure.
     *
     * @param state a state
     * @return whether this layer accepts it
     */
    public boolean accepts(BlockState state) {
        return state instanceof LayerState ls
                && ls.cell() instanceof MLstmCellState
                && (ls.convWindow() != null) == (conv1d.getKernelSize() > 0);
    }

    /**
     * Sets how the cell runs over sequences (default {@link MLstmForm#DEFAULT}).
     *
     * @param form the form
     */
    public void setForm(MLstmForm form) {
        mlstmCell.setForm(form);
    }

    /**
     * Runs the layer from the zero state, returning no state.
     *
     * @param ps the parameter store
     * @param x the input {@code [B, S, D]}
     * @param training whether in training mode
     * @return the output {@code [B, S, D]}
     */
    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        return forward(ps, x, null, false, training).getKey();
    }
}
