package ai.djl.xlstm.slstm;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.Pair;
import ai.djl.xlstm.components.AbstractXLstmBlock;
import ai.djl.xlstm.internal.Inits;
import ai.djl.xlstm.internal.TensorOps;
import ai.djl.xlstm.internal.decode.CpuDecoder;
import ai.djl.xlstm.internal.decode.SLstmScan;
import ai.djl.xlstm.state.SLstmCellState;

/**
 * Upstream {@code blocks/slstm/cell.py: sLSTMCell}: the scalar-memory LSTM with exponential gating
 * and memory mixing (paper section 2.2, eqs. 8-17).
 *
 * <p>For each gate {@code g in (i, f, z, o)} the pre-activation is {@code g~_t = W_g x_t + R_g
 * y_{t-1} + b_g}, where {@code R_g} is block-diagonal with one {@code [DH, DH]} block per head
 * (memory mixing within a head, eq. 18). With the stabilizer {@code m} (eqs. 15-17):
 *
 * <pre>
 *   m_t = max(log f_t + m_{t-1}, i~_t)                 log f_t = logsigmoid(f~_t)
 *   i'_t = exp(i~_t - m_t),  f'_t = exp(log f_t + m_{t-1} - m_t)
 *   c_t = f'_t c_{t-1} + i'_t tanh(z~_t)              (eq. 8)
 *   n_t = f'_t n_{t-1} + i'_t                          (eq. 9)
 *   y_t = sigmoid(o~_t) c_t / n_t                      (eq. 10)
 * </pre>
 *
 * <p>Parameters, in upstream's CUDA layout: {@code _recurrent_kernel_ [NH, DH, 4 * DH]} where
 * {@code R[h].reshape(DH, 4, DH)[:, g, :]} is gate g's matrix applied as {@code y_h @ R_g}, and
 * {@code _bias_ [NH * 4 * DH]} in (head, gate, dim) order.
 *
 * <p>The input projections {@code W_g x_t} of all positions come in one tensor; only the recurrent
 * part runs per step. The zero state has {@code m = -inf}, so the first step takes {@code m = i~},
 * as upstream does for a state with {@code n == 0}.
 */
final class SLstmCell extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final int numHeads;
    private final long headDim;
    private final Parameter recurrentKernel;
    private final Parameter bias;

    /**
     * @param hiddenSize H = NH * DH
     * @param numHeads NH
     * @param blockIndex the block's position in the stack (for the forget gate bias init)
     * @param numBlocks the number of blocks in the stack
     */
    public SLstmCell(long hiddenSize, int numHeads, int blockIndex, int numBlocks) {
        super(VERSION);
        this.numHeads = numHeads;
        this.headDim = hiddenSize / numHeads;
        recurrentKernel =
                addParameter(
                        "_recurrent_kernel_",
                        Parameter.Type.WEIGHT,
                        new Shape(numHeads, headDim, 4 * headDim),
                        Initializer.ZEROS);
        bias = addParameter(
                "_bias_", Parameter.Type.BIAS, new Shape(4 * hiddenSize),
                Inits.slstmBias(numHeads, (int) headDim, blockIndex, numBlocks));
    }

    /**
     * The zero state for a batch of {@code batch}: {@code y = c = n = 0, m = -inf}.
     *
     * @param manager the manager of the state's arrays
     * @param device their device
     * @param batch the batch size
     * @return the zero state
     */
    public SLstmCellState zeroState(NDManager manager, Device device, long batch) {
        Shape shape = new Shape(batch, numHeads, 1, headDim);
        DataType dt = DataType.FLOAT32;
        return new SLstmCellState(
                manager.zeros(shape, dt, device),
                manager.zeros(shape, dt, device),
                manager.zeros(shape, dt, device),
                manager.full(shape, Float.NEGATIVE_INFINITY, dt, device));
    }

    /**
     * Runs the recurrence over the input projections {@code wx [B, S, 4 * H]} (gate, head, dim
     * order on the last axis) from {@code state} (null: zero state).
     *
     * @param ps the parameter store
     * @param wx the input projections
     * @param state the state to start from, or null
     * @param training whether in training mode
     * @return the hidden states {@code [B, NH, S, DH]} and the state after the last position
     */
    public Pair<NDArray, SLstmCellState> forward(
            ParameterStore ps, NDArray wx, SLstmCellState state, boolean training) {
        Shape s = wx.getShape();
        long batch = s.get(0);
        int len = (int) s.get(1);
        NDArray r = value(ps, recurrentKernel, wx, training); // [NH, DH, 4 * DH]
        NDArray b = scoped(value(ps, bias, wx, training).reshape(numHeads, 1, 4 * headDim), wx);
        NDArray pre = wx.reshape(batch, len, 4, numHeads, headDim)
                .transpose(0, 3, 1, 2, 4)
                .reshape(batch, numHeads, len, 4 * headDim)
                .add(b); // [B, NH, S, 4 * DH], gate-major per head like R's columns
        if (state == null) {
            state = zeroState(wx.getManager(), wx.getDevice(), batch);
        }
        if (!training && onHeap(pre)) {
            return forwardOnHeap(pre, r, state);
        }
        return forwardNative(pre, r, state);
    }

    /**
     * Whether the recurrence over {@code pre} may run on the Java heap: float32 on the CPU, and no
     * gradient is being recorded on this thread (libtorch's grad mode is off), so nothing is lost
     * by leaving libtorch. {@code -Dai.djl.xlstm.decode.libtorch=true} keeps it on libtorch.
     */
    static boolean onHeap(NDArray pre) {
        return pre.getDevice().getDeviceType().equals(Device.Type.CPU)
                && pre.getDataType() == DataType.FLOAT32
                && !TensorOps.gradMode(pre.getManager())
                && !CpuDecoder.libtorchOnly();
    }

    /** Positions per heap pass: bounds the Java arrays of a long sequence ({@code 4 DH} floats each). */
    static final int HEAP_SPAN = 512;

    /**
     * The recurrence in Java ({@link SLstmScan}), {@value #HEAP_SPAN} positions at a time: a few
     * tensors per span instead of ~25 per position.
     *
     * @param pre the pre-activations with the bias {@code [B, NH, S, 4 * DH]}
     * @param r the recurrent kernel {@code [NH, DH, 4 * DH]}
     * @param state the state to start from
     */
    Pair<NDArray, SLstmCellState> forwardOnHeap(NDArray pre, NDArray r, SLstmCellState state) {
        NDManager manager = pre.getManager();
        Shape s = pre.getShape();
        int batch = (int) s.get(0);
        int len = (int) s.get(2);
        SLstmScan scan = SLstmScan.of(r.toFloatArray(), numHeads, (int) headDim);
        float[] y = state.y().toFloatArray(); // [B, NH, DH]
        float[] c = state.c().toFloatArray();
        float[] n = state.n().toFloatArray();
        float[] m = state.m().toFloatArray();
        NDList spans = new NDList();
        for (int t0 = 0; t0 < len; t0 += HEAP_SPAN) {
            int span = Math.min(HEAP_SPAN, len - t0);
            float[] in;
            if (span == len) {
                in = pre.toFloatArray();
            } else {
                try (NDArray slice = pre.get(new NDIndex(":, :, {}:{}", t0, t0 + span))) {
                    in = slice.toFloatArray();
                }
            }
            float[] out = new float[batch * numHeads * span * (int) headDim];
            scan.run(in, batch, span, y, c, n, m, out);
            spans.add(TensorOps.owned(manager, out).reshape(batch, numHeads, span, headDim));
        }
        NDArray ys = spans.size() == 1 ? spans.get(0) : NDArrays.concat(spans, 2); // [B, NH, S, DH]
        Shape stateShape = new Shape(batch, numHeads, 1, headDim);
        SLstmCellState next = new SLstmCellState(
                TensorOps.owned(manager, y).reshape(stateShape),
                TensorOps.owned(manager, c).reshape(stateShape),
                TensorOps.owned(manager, n).reshape(stateShape),
                TensorOps.owned(manager, m).reshape(stateShape));
        return new Pair<>(ys, next);
    }

    /**
     * The recurrence as libtorch operations, position after position (differentiable). Inside the
     * loop the arrays are head-major ({@code [1, NH, B, ...]}), so the recurrent product is one
     * batched product per head over the batch: {@code [1, NH, B, DH] @ [NH, DH, 4 * DH]}. With the
     * batch first, libtorch expands R over the batch, and the backward pass computes R's gradient
     * as B * NH outer products (inner size 1), which took 1.5 ms per position at B = 8.
     */
    Pair<NDArray, SLstmCellState> forwardNative(NDArray pre, NDArray r, SLstmCellState state) {
        int len = (int) pre.getShape().get(2);
        NDArray byPosition = pre.transpose(2, 1, 0, 3); // [S, NH, B, 4 * DH]
        NDList steps = len == 1 ? new NDList(byPosition) : byPosition.split(len, 0);
        SLstmCellState st = swapBatchAndPosition(state); // [1, NH, B, DH] each
        NDList ys = new NDList(len);
        for (int t = 0; t < len; t++) {
            st = step(steps.get(t).add(st.y().matMul(r)), st);
            ys.add(st.y());
        }
        NDArray y = (len == 1 ? ys.get(0) : NDArrays.concat(ys, 0)).transpose(2, 1, 0, 3); // [B, NH, S, DH]
        return new Pair<>(y, swapBatchAndPosition(st));
    }

    /** {@code [B, NH, 1, DH] <-> [1, NH, B, DH]} for each of the state's arrays (views). */
    private static SLstmCellState swapBatchAndPosition(SLstmCellState s) {
        return new SLstmCellState(
                s.y().transpose(2, 1, 0, 3),
                s.c().transpose(2, 1, 0, 3),
                s.n().transpose(2, 1, 0, 3),
                s.m().transpose(2, 1, 0, 3));
    }

    /** One pointwise step from the full pre-activations {@code raw [..., 4 * DH]} (any leading layout). */
    private static SLstmCellState step(NDArray raw, SLstmCellState state) {
        NDList gates = raw.split(4, 3);
        NDArray iRaw = gates.get(0);
        NDArray logfPlusM = TensorOps.logSigmoid(gates.get(1)).add(state.m());
        NDArray m = NDArrays.maximum(iRaw, logfPlusM);
        NDArray i = iRaw.sub(m).exp();
        NDArray f = logfPlusM.sub(m).exp();
        NDArray c = f.mul(state.c()).add(i.mul(gates.get(2).tanh()));
        NDArray n = f.mul(state.n()).add(i);
        NDArray y = gates.get(3).getNDArrayInternal().sigmoid().mul(c).div(n);
        return new SLstmCellState(y, c, n, m);
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        return forward(ps, x, null, training).getKey();
    }

    /** Gate pre-activations {@code [B, S, 4 * D]} -> hidden states per head {@code [B, NH, S, DH]}. */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape in = inputShapes[0];
        return new Shape[] {new Shape(in.get(0), numHeads, in.get(1), headDim)};
    }
}
