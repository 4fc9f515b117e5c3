package ai.djl.xlstm.internal;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.util.Pair;
import ai.djl.xlstm.internal.TensorOps;
import ai.djl.xlstm.state.MLstmCellState;

import java.util.ArrayList;
import java.util.List;

/**
 * The three forms of the mLSTM cell (paper section 2.3, eqs. 19-27), which agree with each other.
 *
 * <p>With input gate pre-activation {@code i_t}, forget gate {@code f_t = sigmoid(f~_t)} (used in
 * log space, {@code log f_t = logsigmoid(f~_t)}), the matrix memory is
 *
 * <pre>
 *   C_t = f_t C_{t-1} + exp(i_t) k_t v_t^T        (eq. 19)
 *   n_t = f_t n_{t-1} + exp(i_t) k_t              (eq. 20)
 *   h_t = C_t^T q_t / max(|n_t^T q_t|, 1)         (eq. 21)
 * </pre>
 *
 * The exponential input gate overflows, so every form carries a stabilizer {@code m} (eq. 15-17 of
 * the sLSTM, applied to the mLSTM) and stores {@code C, n} scaled by {@code exp(-m)}: then the
 * lower bound 1 of the denominator becomes {@code exp(-m)}. Since {@code C}, {@code n} and the
 * bound scale together, any consistent {@code m} gives the same {@code h} (up to {@code eps}).
 *
 * <p>The callers pass queries and keys already scaled: the NeurIPS cell scales {@code k} by {@code
 * 1/sqrt(DHQK)}, xLSTM Large scales {@code q}. Shapes: {@code q, k [B, NH, S, DHQK]}, {@code v [B,
 * NH, S, DHV]}, gate pre-activations {@code i, f [B, NH, S]}, output {@code h [B, NH, S, DHV]}.
 */
public final class MLstmKernels {

    private MLstmKernels() {}

    /** The zero memory: {@code C = 0, n = 0, m = 0} as upstream's recurrent kernels start. */
    public static MLstmCellState zeroState(
            NDManager manager, Device device, long batch, long heads, long dqk, long dv) {
        return new MLstmCellState(
                manager.zeros(new Shape(batch, heads, dqk, dv), DataType.FLOAT32, device),
                manager.zeros(new Shape(batch, heads, dqk), DataType.FLOAT32, device),
                manager.zeros(new Shape(batch, heads, 1), DataType.FLOAT32, device));
    }

    /**
     * The parallel (quadratic) form, upstream's {@code parallel_stabilized_simple}: the decay
     * matrix {@code log D[t, j] = sum_{s=j+1..t} log f_s + i_j} ({@code j <= t}) is stabilized row-wise by
     * its maximum {@code m_t}, and {@code h = (C / max(|rowsum C|, exp(-m)) + eps) V} with {@code C =
     * (Q K^T) * D}. Starts from an empty memory; memory is quadratic in S.
     */
    public static NDArray parallel(
            NDArray q, NDArray k, NDArray v, NDArray i, NDArray f, float eps) {
        long s = q.getShape().get(2);
        NDArray b = TensorOps.logSigmoid(f).cumSum(2); // [B, NH, S]
        NDArray logD = decayMatrix(b, i, s); // [B, NH, S, S]
        NDArray maxD = logD.max(new int[] {-1}, true); // [B, NH, S, 1]
        NDArray c = q.matMul(k.transpose(0, 1, 3, 2)).mul(logD.sub(maxD).exp());
        NDArray normalizer = NDArrays.maximum(c.sum(new int[] {-1}, true).abs(), maxD.neg().exp());
        return c.div(normalizer.add(TensorOps.scalar(normalizer, eps))).matMul(v);
    }

    /**
     * The chunkwise form: linear memory in S, any S, from {@code state} (null: the zero state).
     * The sequence is cut into chunks of {@code chunkSize} (the last one padded with positions that
     * have {@code i = -inf} and {@code log f = 0}, which change nothing). Each row's output combines
     * the memory entering its chunk with the quadratic form inside the chunk.
     *
     * <p>The memory entering every chunk comes in closed form, not from a loop over the chunks:
     * with {@code g_j} the log decay over chunk j, {@code G_k = sum_{j<k} g_j}, {@code a_{j,l}} the
     * log weight of position l at the end of its chunk and {@code U_j = sum_l exp(a_{j,l} - amax_j)
     * k_{j,l} [v_{j,l}, 1]^T} (the memory and normalizer a chunk adds, scaled by its largest
     * weight), the memory entering chunk k is
     *
     * <pre>
     *   m_k = G_k + max(m_0, max_{j<k} (amax_j - G_{j+1}))           (the sequential max, unrolled)
     *   [C_k, n_k] = exp(G_k + m_0 - m_k) [C_0, n_0] + sum_{j<k} exp(amax_j - G_{j+1} + G_k - m_k) U_j
     * </pre>
     *
     * one product of a {@code [NC + 1, NC]} weight matrix with the stacked {@code U}; every exponent
     * is at most 0. A fixed number of tensor operations per span instead of ~60 per chunk.
     *
     * <p>Spans of {@link #spanChunks} chunks bound the temporaries of long sequences; when no input
     * requires a gradient (inference) each span's temporaries are freed before the next.
     *
     * @return {@code h} and the memory after the last position
     */
    public static Pair<NDArray, MLstmCellState> chunkwise(
            NDArray q, NDArray k, NDArray v, NDArray i, NDArray f,
            MLstmCellState state, int chunkSize, float eps) {
        Shape qs = q.getShape();
        int perSpan = spanChunks(qs.get(0), qs.get(1), chunkSize, qs.get(3), v.getShape().get(3));
        return chunkwise(q, k, v, i, f, state, chunkSize, eps, perSpan);
    }

    /** {@link #chunkwise} in spans of {@code chunksPerSpan} chunks. */
    static Pair<NDArray, MLstmCellState> chunkwise(
            NDArray q, NDArray k, NDArray v, NDArray i, NDArray f,
            MLstmCellState state, int chunkSize, float eps, int chunksPerSpan) {
        Shape qs = q.getShape();
        long s = qs.get(2);
        if (state == null) {
            state = zeroState(q.getManager(), q.getDevice(), qs.get(0), qs.get(1), qs.get(3), v.getShape().get(3));
        }
        long span = chunkSize * (long) chunksPerSpan;
        if (s <= span) {
            return chunkwiseSpan(q, k, v, i, f, state, chunkSize, eps);
        }
        boolean inference = !TensorOps.gradMode(q.getManager());
        NDList hs = new NDList();
        MLstmCellState carried = state;
        for (long start = 0; start < s; start += span) {
            long end = Math.min(s, start + span);
            Pair<NDArray, MLstmCellState> out;
            try (NDScope scope = inference ? new NDScope() : null) { // inference: free the span's temporaries
                out = chunkwiseSpan(positions(q, start, end), positions(k, start, end), positions(v, start, end),
                        positions(i, start, end), positions(f, start, end), carried, chunkSize, eps);
                if (inference) {
                    NDScope.unregister(out.getKey());
                    NDScope.unregister(out.getValue().c(), out.getValue().n(), out.getValue().m());
                }
            }
            if (inference && carried != state) { // the previous span's memory, not the caller's
                carried.c().close();
                carried.n().close();
                carried.m().close();
            }
            hs.add(out.getKey());
            carried = out.getValue();
        }
        NDArray h = NDArrays.concat(hs, 2); // [B, NH, S, DHV]
        if (inference) {
            hs.close();
        }
        return new Pair<>(h, carried);
    }

    /** Elements of the largest temporaries of one span (~64 MB of float32 each). */
    private static final long SPAN_ELEMENTS = 16L << 20;

    /**
     * The most chunks in one span. The closed form's weight product costs {@code (NC + 1) DHQK
     * (DHV + 1)} multiply-adds per head and position, growing with NC, against roughly {@code
     * 2 L (DHQK + DHV) + 4 DHQK DHV} for the rest of the chunkwise form: at 16 chunks it adds under
     * a tenth (at 253 chunks a 65,536-token pass took 24x an 8,192-token one, not 8x).
     */
    private static final int MAX_SPAN_CHUNKS = 16;

    /**
     * The chunks of one span: at most {@link #MAX_SPAN_CHUNKS}, and as many as keep the decay
     * matrices {@code [B, NH, NC, L, L]} and the entering memories {@code [B, NH, NC + 1, DHQK,
     * DHV + 1]} under {@link #SPAN_ELEMENTS}; at least one.
     */
    static int spanChunks(long batch, long heads, long chunk, long dqk, long dv) {
        long byDecay = SPAN_ELEMENTS / Math.max(1, batch * heads * chunk * chunk);
        long byMemory = SPAN_ELEMENTS / Math.max(1, batch * heads * dqk * (dv + 1)) - 1;
        return (int) Math.max(1, Math.min(Math.min(byDecay, byMemory), MAX_SPAN_CHUNKS));
    }

    /** {@link #chunkwise} over one span, in closed form over its chunks. */
    private static Pair<NDArray, MLstmCellState> chunkwiseSpan(
            NDArray q, NDArray k, NDArray v, NDArray i, NDArray f,
            MLstmCellState state, int chunkSize, float eps) {
        Shape qs = q.getShape();
        long batch = qs.get(0);
        long heads = qs.get(1);
        long s = qs.get(2);
        long dqk = qs.get(3);
        long dv = v.getShape().get(3);
        long l = Math.min(chunkSize, s);
        int nc = (int) ((s + l - 1) / l);
        long pad = nc * l - s;
        NDManager mgr = q.getManager();
        Device dev = q.getDevice();
        DataType dt = q.getDataType();
        NDArray logf = TensorOps.logSigmoid(f); // [B, NH, S]
        if (pad > 0) {
            q = q.concat(mgr.zeros(new Shape(batch, heads, pad, dqk), dt, dev), 2);
            k = k.concat(mgr.zeros(new Shape(batch, heads, pad, dqk), dt, dev), 2);
            v = v.concat(mgr.zeros(new Shape(batch, heads, pad, dv), dt, dev), 2);
            logf = logf.concat(mgr.zeros(new Shape(batch, heads, pad), dt, dev), 2);
            i = i.concat(mgr.full(new Shape(batch, heads, pad), Float.NEGATIVE_INFINITY, dt, dev), 2);
        }
        q = q.reshape(batch, heads, nc, l, dqk);
        k = k.reshape(batch, heads, nc, l, dqk);
        NDArray v1 = v.reshape(batch, heads, nc, l, dv)
                .concat(mgr.ones(new Shape(batch, heads, nc, l, 1), dt, dev), 4); // [B, NH, NC, L, DHV + 1]
        i = i.reshape(batch, heads, nc, l);
        NDArray b = logf.reshape(batch, heads, nc, l).cumSum(3); // [B, NH, NC, L]: decay from chunk start
        NDArray g = b.get(new NDIndex().addAllDim(3).addIndices(l - 1)); // [B, NH, NC]: decay over chunk j
        NDArray a = g.expandDims(3).sub(b).add(i); // [B, NH, NC, L]: log weight of l at its chunk's end
        NDArray aMax = a.max(new int[] {3}); // [B, NH, NC]
        NDArray gAfter = g.cumSum(2); // [B, NH, NC]: G_{j+1}
        NDArray gBefore = mgr.zeros(new Shape(batch, heads, 1), dt, dev).concat(gAfter, 2); // [B, NH, NC + 1]: G_k
        NDArray e = aMax.sub(gAfter).expandDims(2); // [B, NH, 1, NC]: amax_j - G_{j+1}
        NDArray eEarlier = e.add(causalMask(mgr, nc + 1, nc, false, dt, dev)); // [B, NH, NC + 1, NC]: -inf where j >= k
        NDArray m0 = state.m(); // [B, NH, 1]
        NDArray mEnter = gBefore.add(NDArrays.maximum(eEarlier.max(new int[] {3}), m0)); // [B, NH, NC + 1]
        NDArray w = eEarlier.add(gBefore.sub(mEnter).expandDims(3)).exp(); // [B, NH, NC + 1, NC]
        NDArray w0 = gBefore.add(m0).sub(mEnter).exp(); // [B, NH, NC + 1]

        // U_j: each chunk's memory and normalizer, scaled by exp(-amax_j)
        NDArray kw = k.mul(a.sub(aMax.expandDims(3)).exp().expandDims(4)); // [B, NH, NC, L, DHQK]
        long rows = batch * heads * nc; // the products below run on [B * NH * NC, ., .]: libtorch passes a
        // transposed 3-d operand to its batched product as it is, a 5-d one it copies first
        NDArray u = kw.reshape(rows, l, dqk).transpose(0, 2, 1).matMul(v1.reshape(rows, l, dv + 1))
                .reshape(batch, heads, nc, dqk, dv + 1); // [B, NH, NC, DHQK, DHV + 1]
        NDArray start = state.c().concat(state.n().expandDims(3), 3); // [B, NH, DHQK, DHV + 1]
        NDArray memories = w.matMul(u.reshape(batch, heads, nc, dqk * (dv + 1)))
                .reshape(batch, heads, nc + 1, dqk, dv + 1)
                .add(w0.reshape(batch, heads, nc + 1, 1, 1).mul(start.expandDims(2))); // [B, NH, NC + 1, DHQK, DHV + 1]
        NDArray entering = memories.get(new NDIndex().addAllDim(2).addSliceDim(0, nc)); // [B, NH, NC, DHQK, DHV + 1]
        NDArray after = memories.get(new NDIndex().addAllDim(2).addIndices(nc)); // [B, NH, DHQK, DHV + 1]
        MLstmCellState last = new MLstmCellState(
                after.get(new NDIndex().addAllDim(3).addSliceDim(0, dv)),
                after.get(new NDIndex().addAllDim(3).addIndices(dv)),
                mEnter.get(new NDIndex().addAllDim(2).addSliceDim(nc, nc + 1)));

        // Outputs: the entering memory plus the quadratic form inside each chunk.
        NDArray mIn = mEnter.get(new NDIndex().addAllDim(2).addSliceDim(0, nc)); // [B, NH, NC]
        NDArray logD = decayMatrix(b, i, l); // [B, NH, NC, L, L]
        NDArray mInter = b.add(mIn.expandDims(3)); // [B, NH, NC, L]: the entering memory's weight at row l
        NDArray mRow = NDArrays.maximum(mInter, logD.max(new int[] {-1})); // [B, NH, NC, L]
        NDArray sBar = q.reshape(rows, l, dqk).matMul(k.reshape(rows, l, dqk).transpose(0, 2, 1))
                .reshape(batch, heads, nc, l, l).mul(logD.sub(mRow.expandDims(4)).exp()); // [B, NH, NC, L, L]
        NDArray qGated = q.mul(mInter.sub(mRow).exp().expandDims(4)); // [B, NH, NC, L, DHQK]
        NDArray numDen = qGated.matMul(entering).add(sBar.matMul(v1)); // [B, NH, NC, L, DHV + 1]
        NDArray num = numDen.get(new NDIndex().addAllDim(4).addSliceDim(0, dv)); // [B, NH, NC, L, DHV]
        NDArray den = numDen.get(new NDIndex().addAllDim(4).addIndices(dv)); // [B, NH, NC, L]
        NDArray bound = NDArrays.maximum(den.abs(), mRow.neg().exp()).add(TensorOps.scalar(den, eps));
        NDArray h = num.div(bound.expandDims(4)).reshape(batch, heads, nc * l, dv);
        if (pad > 0) {
            h = h.get(new NDIndex().addAllDim(2).addSliceDim(0, s));
        }
        return new Pair<>(h, last);
    }

    /**
     * {@code [rows, cols]}: 0 where column {@code j} comes before row {@code t} ({@code j < t}, or
     * {@code j <= t} with {@code diagonal}), else -inf.
     */
    private static NDArray causalMask(NDManager mgr, long rows, long cols, boolean diagonal, DataType dt, Device dev) {
        NDArray t = mgr.arange(0f, (float) rows, 1f, DataType.FLOAT32, dev).reshape(rows, 1);
        NDArray j = mgr.arange(0f, (float) cols, 1f, DataType.FLOAT32, dev).reshape(1, cols);
        Shape shape = new Shape(rows, cols);
        return NDArrays.where(diagonal ? j.lte(t) : j.lt(t), mgr.zeros(shape, dt, dev),
                mgr.full(shape, Float.NEGATIVE_INFINITY, dt, dev));
    }

    /** Positions {@code [from, to)} of axis 2. */
    private static NDArray positions(NDArray x, long from, long to) {
        return x.get(new NDIndex().addAllDim(2).addSliceDim(from, to));
    }

    /**
     * One recurrent step (upstream {@code recurrent_step_stabilized_simple} and {@code
     * mlstm_recurrent_step__native_fw}); the cost does not depend on the position. Shapes: {@code q,
     * k [B, NH, 1, DHQK]}, {@code v [B, NH, 1, DHV]}, {@code i, f [B, NH, 1]}.
     *
     * @return {@code h [B, NH, 1, DHV]} and the new memory
     */
    public static Pair<NDArray, MLstmCellState> step(
            NDArray q, NDArray k, NDArray v, NDArray i, NDArray f,
            MLstmCellState state, float eps) {
        NDArray logfPlusM = TensorOps.logSigmoid(f).add(state.m()); // [B, NH, 1]
        NDArray mNew = NDArrays.maximum(logfPlusM, i);
        NDArray fAct = logfPlusM.sub(mNew).exp();
        NDArray iAct = i.sub(mNew).exp();
        NDArray kScaled = k.mul(iAct.expandDims(3)); // [B, NH, 1, DHQK]
        NDArray c = state.c().mul(fAct.expandDims(3)).add(kScaled.transpose(0, 1, 3, 2).matMul(v));
        NDArray n = state.n().mul(fAct).add(kScaled.squeeze(2)); // [B, NH, DHQK]
        NDArray num = q.matMul(c); // [B, NH, 1, DHV]
        NDArray qn = q.matMul(n.expandDims(3)); // [B, NH, 1, 1]
        NDArray bound = NDArrays.maximum(qn.abs(), mNew.neg().exp().expandDims(3)).add(TensorOps.scalar(qn, eps));
        return new Pair<>(num.div(bound), new MLstmCellState(c, n, mNew));
    }

    /** The recurrent form over a sequence: {@link #step} at every position. */
    public static Pair<NDArray, MLstmCellState> recurrent(
            NDArray q, NDArray k, NDArray v, NDArray i, NDArray f,
            MLstmCellState state, float eps) {
        Shape qs = q.getShape();
        int s = (int) qs.get(2);
        if (state == null) {
            state = zeroState(q.getManager(), q.getDevice(), qs.get(0), qs.get(1), qs.get(3), v.getShape().get(3));
        }
        if (s == 1) {
            return step(q, k, v, i, f, state, eps);
        }
        NDList qs1 = q.split(s, 2);
        NDList ks1 = k.split(s, 2);
        NDList vs1 = v.split(s, 2);
        NDList is1 = i.split(s, 2);
        NDList fs1 = f.split(s, 2);
        NDList hs = new NDList(s);
        for (int t = 0; t < s; t++) {
            Pair<NDArray, MLstmCellState> out =
                    step(qs1.get(t), ks1.get(t), vs1.get(t), is1.get(t), fs1.get(t), state, eps);
            hs.add(out.getKey());
            state = out.getValue();
        }
        return new Pair<>(NDArrays.concat(hs, 2), state);
    }

    /**
     * {@code log D[.., t, j] = b_t - b_j + i_j} for {@code j <= t}, else {@code -inf}, where {@code
     * b} is the cumulative log forget gate over the last axis. Shapes: {@code b, i [..., L] -> [...,
     * L, L]}.
     */
    private static NDArray decayMatrix(NDArray b, NDArray i, long l) {
        NDArray mask = causalMask(b.getManager(), l, l, true, b.getDataType(), b.getDevice()); // [L, L]
        return b.expandDims(-1).sub(b.expandDims(-2)).add(mask).add(i.expandDims(-2));
    }
}
