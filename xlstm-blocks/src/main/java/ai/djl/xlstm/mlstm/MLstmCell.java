package ai.djl.xlstm.mlstm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.Pair;
import ai.djl.xlstm.components.AbstractXLstmBlock;
import ai.djl.xlstm.components.Inits;
import ai.djl.xlstm.components.MLstmBackend;
import ai.djl.xlstm.components.MultiHeadLayerNorm;
import ai.djl.xlstm.components.TensorOps;
import ai.djl.xlstm.state.MLstmCellState;

/**
 * Upstream {@code blocks/mlstm/cell.py: mLSTMCell} (NeurIPS): the input and forget gate
 * pre-activations are linear in {@code concat(q, k, v)} (one scalar per head), keys are scaled by
 * {@code 1/sqrt(DH)}, the cell runs in the form {@link MLstmBackend} chooses, and a multi-head
 * layer norm ({@code outnorm}) normalizes each head's output.
 *
 * <p>Shapes: {@code q, k, v [B, S, NH * DH] -> h [B, S, NH * DH]}.
 */
final class MLstmCell extends AbstractXLstmBlock {

    private static final byte VERSION = 1;
    private static final float EPS = 1e-6f;

    private final int numHeads;
    private final long headDim;
    private final Linear igate;
    private final Linear fgate;
    private final MultiHeadLayerNorm outnorm;

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
    public Pair<NDArray, MLstmCellState> forward(
            ParameterStore ps, NDArray q, NDArray k, NDArray v, MLstmCellState state,
            MLstmBackend backend, boolean needState, boolean training) {
        Shape s = q.getShape();
        long batch = s.get(0);
        long len = s.get(1);
        NDArray gateInput = NDArrays.concat(new NDList(q, k, v), 2);
        NDArray i = apply(ps, igate, gateInput, training).transpose(0, 2, 1); // [B, NH, S]
        NDArray f = apply(ps, fgate, gateInput, training).transpose(0, 2, 1); // [B, NH, S]
        NDArray qh = heads(q, batch, len);
        NDArray kh = heads(k, batch, len).div(TensorOps.scalar(k, (float) Math.sqrt(headDim))); // k / sqrt(DH)
        NDArray vh = heads(v, batch, len);
        Pair<NDArray, MLstmCellState> out;
        if (len == 1 || backend.form() == MLstmBackend.Form.RECURRENT) {
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

    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        throw new UnsupportedOperationException("MLstmCell takes q, k and v: use the stateful forward");
    }
}
