package ai.djl.xlstm.large;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.training.initializer.Initializer;
import ai.djl.xlstm.components.AbstractXLstmBlock;
import ai.djl.xlstm.internal.Inits;
import ai.djl.xlstm.components.MultiHeadLayerNorm;
import ai.djl.xlstm.internal.TensorOps;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.internal.MLstmKernels;
import ai.djl.xlstm.state.MLstmCellState;

/**
 * Upstream {@code xlstm_large/model.py: mLSTMLayer} (xLSTM 7B): dense q/k/v projections of sizes
 * {@code qk_dim_factor * D} and {@code v_dim_factor * D}, gate pre-activations soft-capped by
 * {@code cap * tanh(x / cap)}, queries scaled by {@code 1/sqrt(DHQK)}, a multi-head layer norm, a
 * sigmoid output gate and an output projection.
 *
 * <p>Over a sequence it follows upstream's inference mode: the whole chunks run in the chunkwise
 * form and the remaining {@code S % chunk_size} positions through the recurrent step (or a padded
 * chunk, per {@link MLstmForm#recurrentTail()}). Shapes: {@code [B, S, D] -> [B, S, D]}.
 */
final class MLstmLargeLayer extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final XLstmLargeConfig config;
    private final Linear q;
    private final Linear k;
    private final Linear v;
    private final Linear ogatePreact;
    private final Linear igatePreact;
    private final Linear fgatePreact;
    private final MultiHeadLayerNorm multiheadNorm;
    private final Linear outProj;
    private volatile MLstmForm form;

    /** Creates the layer for {@code config}. */
    public MLstmLargeLayer(XLstmLargeConfig config) {
        super(VERSION);
        this.config = config;
        int d = config.embeddingDim();
        boolean bias = config.useBias();
        q = addLinear("q", d, config.qkDim(), bias, Inits.small(d), null);
        k = addLinear("k", d, config.qkDim(), bias, Inits.small(d), null);
        v = addLinear("v", d, config.vDim(), bias, Inits.small(d), null);
        ogatePreact = addLinear("ogate_preact", d, config.vDim(), bias, Inits.small(d), null);
        igatePreact = addLinear("igate_preact", d, config.numHeads(), true, Initializer.ZEROS, Inits.constant(-10f));
        fgatePreact = addLinear("fgate_preact", d, config.numHeads(), true, Initializer.ZEROS, Inits.linspace(3f, 6f));
        multiheadNorm =
                addChildBlock(
                        "multihead_norm",
                        new MultiHeadLayerNorm(config.numHeads(), config.vDim(), config.normEps(), false, bias));
        outProj = addLinear("out_proj", config.vDim(), d, bias, Inits.wang(config.vDim(), config.numBlocks()), null);
        form = MLstmForm.inference(config.chunkSize());
    }

    /** The empty memory. */
    public MLstmCellState zeroState(NDManager manager, Device device, long batch) {
        int nh = config.numHeads();
        return MLstmKernels.zeroState(manager, device, batch, nh, config.qkDim() / nh, config.vDim() / nh);
    }

    /**
     * Runs the layer from {@code state} (null: empty memory).
     *
     * @return the output {@code [B, S, D]} and the new memory (null unless {@code needState})
     */
    public Pair<NDArray, MLstmCellState> forward(
            ParameterStore ps, NDArray x, MLstmCellState state, boolean needState, boolean training) {
        long batch = x.getShape().get(0);
        long len = x.getShape().get(1);
        int nh = config.numHeads();
        float cap = config.gateSoftCap();
        NDArray qx = apply(ps, q, x, training); // [B, S, NH * DHQK]
        float sqrtDhqk = (float) Math.sqrt(config.qkDim() / (double) nh);
        NDArray qh = heads(qx, batch, len).div(TensorOps.scalar(qx, sqrtDhqk)); // q / sqrt(DHQK)
        NDArray kh = heads(apply(ps, k, x, training), batch, len);
        NDArray vh = heads(apply(ps, v, x, training), batch, len);
        NDArray gates = TensorOps.softCap(applyWide(ps, x, training, igatePreact, fgatePreact), cap)
                .transpose(0, 2, 1); // [B, 2 NH, S]
        NDArray i = gates.get(new NDIndex().addAllDim().addSliceDim(0, nh)); // [B, NH, S]
        NDArray f = gates.get(new NDIndex().addAllDim().addSliceDim(nh, 2L * nh)); // [B, NH, S]
        Pair<NDArray, MLstmCellState> cell = runCell(qh, kh, vh, i, f, state, form, needState);
        NDArray h = multiheadNorm.forward(ps, cell.getKey(), training); // [B, S, V]
        NDArray o = apply(ps, ogatePreact, x, training).getNDArrayInternal().sigmoid();
        return new Pair<>(apply(ps, outProj, o.mul(h), training), needState ? cell.getValue() : null);
    }

    private Pair<NDArray, MLstmCellState> runCell(
            NDArray qh, NDArray kh, NDArray vh, NDArray i, NDArray f,
            MLstmCellState state, MLstmForm backend, boolean needState) {
        float eps = config.eps();
        long len = qh.getShape().get(2);
        int chunk = backend.chunkSize();
        if (len == 1 || backend.kind() == MLstmForm.Kind.RECURRENT) {
            return MLstmKernels.recurrent(qh, kh, vh, i, f, state, eps);
        }
        if (backend.useParallel(len, state != null, needState)) {
            return new Pair<>(MLstmKernels.parallel(qh, kh, vh, i, f, eps), null);
        }
        long tail = backend.recurrentTail() ? len % chunk : 0;
        if (tail == 0 || tail == len) {
            return tail == len
                    ? MLstmKernels.recurrent(qh, kh, vh, i, f, state, eps)
                    : MLstmKernels.chunkwise(qh, kh, vh, i, f, state, chunk, eps);
        }
        long split = len - tail;
        Pair<NDArray, MLstmCellState> head =
                MLstmKernels.chunkwise(
                        slice(qh, 0, split), slice(kh, 0, split), slice(vh, 0, split),
                        slice(i, 0, split), slice(f, 0, split), state, chunk, eps);
        Pair<NDArray, MLstmCellState> rest =
                MLstmKernels.recurrent(
                        slice(qh, split, len), slice(kh, split, len), slice(vh, split, len),
                        slice(i, split, len), slice(f, split, len), head.getValue(), eps);
        return new Pair<>(NDArrays.concat(new NDList(head.getKey(), rest.getKey()), 2), rest.getValue());
    }

    /** Positions {@code [from, to)} of axis 2. */
    private static NDArray slice(NDArray x, long from, long to) {
        return x.get(new NDIndex().addAllDim(2).addSliceDim(from, to));
    }

    /** [B, S, NH * DH] -> [B, NH, S, DH]. */
    private NDArray heads(NDArray x, long batch, long len) {
        return x.reshape(batch, len, config.numHeads(), -1).transpose(0, 2, 1, 3);
    }

    /** Sets how the cell runs over sequences (default: {@link MLstmForm#inference} of the chunk size). */
    void setForm(MLstmForm form) {
        this.form = form;
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        return forward(ps, x, null, false, training).getKey();
    }
}
