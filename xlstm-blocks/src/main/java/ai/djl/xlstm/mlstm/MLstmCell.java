package ai.djl.xlstm.mlstm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import ai.djl.xlstm.components.AbstractXLstmBlock;
import ai.djl.xlstm.internal.Inits;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.components.MultiHeadLayerNorm;
import ai.djl.xlstm.internal.TensorOps;
import ai.djl.xlstm.state.MLstmCellState;
import ai.djl.xlstm.internal.MLstmKernels;

/**
 * Upstream {@code blocks/mlstm/cell.py: mLSTMCell} (NeurIPS): the input and forget gate
 * pre-activations are linear in {@code concat(q, k, v)} (one scalar per head), keys are scaled by
 * {@code 1/sqrt(DH)}, the cell runs in its {@link MLstmForm}, and a multi-head layer norm ({@code
 * outnorm}) normalizes each head's output.
 *
 * <p>Shapes: {@code q, k, v [B, S, NH * DH] -> h [B, S, NH * DH]}. As a DJL block, like DJL's
 * {@code LSTM}: {@code [q, k, v]} gives {@code [h]} (from an empty memory), {@code [q, k, v, C, n,
 * m]} gives {@code [h, C', n', m']}; the single-array {@code forward} takes {@code concat(q, k, v)
 * [B, S, 3 * NH * DH]}, the gates' input.
 */
final class MLstmCell extends AbstractXLstmBlock {

    private static final byte VERSION = 1;
    private static final float EPS = 1e-6f;

    private final int numHeads;
    private final long headDim;
    private final Linear igate;
    private final Linear fgate;
    private final MultiHeadLayerNorm outnorm;
    private volatile MLstmForm form = MLstmForm.DEFAULT;

    /**
     * @param dim the cell dimension NH * DH
     * @param numHeads NH
     */
    public MLstmCell(long dim, int numHeads) {
        super(VERSION);
        this.numHeads = numHeads;
        this.headDim = dim / numHeads;
        // upstream: gate weights zero, input gate bias N(0, 0.1^2), forget gate bias 3..6
        igate = addLinear("igate", 3 * dim, numHeads, true, Initializer.ZEROS, new NormalInitializer(0.1f));
        fgate = addLinear("fgate", 3 * dim, numHeads, true, Initializer.ZEROS, Inits.linspace(3f, 6f));
        outnorm = addChildBlock("outnorm", new MultiHeadLayerNorm(numHeads, dim, 1e-5f, true, false));
    }

    /**
     * Runs the cell over {@code S} positions from {@code state} (null: empty memory).
     *
     * @param needState whether the caller wants the memory after the last position; when false and
     *     {@code state} is null, the parallel form may be used
     * @return {@code h [B, S, NH * DH]} and the new memory (null when not needed)
     */
    Pair<NDArray, MLstmCellState> forward(
            ParameterStore ps, NDArray q, NDArray k, NDArray v, MLstmCellState state,
            boolean needState, boolean training) {
        return run(ps, NDArrays.concat(new NDList(q, k, v), 2), q, k, v, state, needState, training);
    }

    /** {@code gateInput = concat(q, k, v) [B, S, 3 * NH * DH]}. */
    private Pair<NDArray, MLstmCellState> run(
            ParameterStore ps, NDArray gateInput, NDArray q, NDArray k, NDArray v, MLstmCellState state,
            boolean needState, boolean training) {
        MLstmForm backend = form;
        Shape s = q.getShape();
        long batch = s.get(0);
        long len = s.get(1);
        NDArray gates = applyWide(ps, gateInput, training, igate, fgate).transpose(0, 2, 1); // [B, 2 NH, S]
        NDArray i = gates.get(new NDIndex().addAllDim().addSliceDim(0, numHeads)); // [B, NH, S]
        NDArray f = gates.get(new NDIndex().addAllDim().addSliceDim(numHeads, 2L * numHeads)); // [B, NH, S]
        NDArray qh = heads(q, batch, len);
        NDArray kh = heads(k, batch, len).div(TensorOps.scalar(k, (float) Math.sqrt(headDim))); // k / sqrt(DH)
        NDArray vh = heads(v, batch, len);
        Pair<NDArray, MLstmCellState> out;
        if (len == 1 || backend.kind() == MLstmForm.Kind.RECURRENT) {
            out = MLstmKernels.recurrent(qh, kh, vh, i, f, state, EPS);
        } else if (backend.useParallel(len, state != null, needState)) {
            out = new Pair<>(MLstmKernels.parallel(qh, kh, vh, i, f, EPS), null);
        } else {
            out = MLstmKernels.chunkwise(qh, kh, vh, i, f, state, backend.chunkSize(), EPS);
        }
        NDArray h = outnorm.forward(ps, out.getKey(), training); // [B, S, NH * DH]
        return new Pair<>(h, out.getValue());
    }

    /**
     * [B, S, NH * DH] -> [B, NH, S, DH]. For one position (decode) a reshape alone gives the same
     * tensor: one native call instead of two.
     */
    private NDArray heads(NDArray x, long batch, long len) {
        return len == 1 ? x.reshape(batch, numHeads, 1, headDim)
                : x.reshape(batch, len, numHeads, headDim).transpose(0, 2, 1, 3);
    }

    /** Sets how the cell runs over sequences (default {@link MLstmForm#DEFAULT}). */
    void setForm(MLstmForm form) {
        this.form = form;
    }

    /**
     * Runs the cell from an empty memory over {@code qkv = concat(q, k, v) [B, S, 3 * NH * DH]},
     * the gates' input.
     */
    @Override
    public NDArray forward(ParameterStore ps, NDArray qkv, boolean training) {
        long width = qkv.getShape().get(qkv.getShape().dimension() - 1);
        if (qkv.getShape().dimension() != 3 || width != 3 * numHeads * headDim) {
            throw new IllegalArgumentException("mLSTM cell input concat(q, k, v) must be [B, S, "
                    + 3 * numHeads * headDim + "], got " + qkv.getShape());
        }
        NDList parts = qkv.split(3, 2);
        return run(ps, qkv, parts.get(0), parts.get(1), parts.get(2), null, false, training).getKey();
    }

    /** {@code [q, k, v]} gives {@code [h]}; {@code [q, k, v, C, n, m]} gives {@code [h, C', n', m']}. */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        if (inputs.size() != 3 && inputs.size() != 6) {
            throw new IllegalArgumentException(
                    "mLSTM cell takes [q, k, v] or [q, k, v, C, n, m], got " + inputs.size() + " arrays");
        }
        MLstmCellState state =
                inputs.size() == 6 ? new MLstmCellState(inputs.get(3), inputs.get(4), inputs.get(5)) : null;
        Pair<NDArray, MLstmCellState> out =
                forward(ps, inputs.get(0), inputs.get(1), inputs.get(2), state, state != null, training);
        NDList result = new NDList(out.getKey());
        if (state != null) {
            result.addAll(out.getValue().tensors());
        }
        return result;
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape[] out = new Shape[inputShapes.length == 6 ? 4 : 1];
        out[0] = inputShapes[0];
        System.arraycopy(inputShapes, 3, out, 1, out.length - 1);
        return out;
    }
}
