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
     * have {@code i = -inf} and {@code log f = 0}, which change nothing). A sequential loop carries
     * the memory from chunk to chunk; then the outputs of all chunks are computed at once, each row
     * combining the memory entering its chunk with the quadratic form inside the chunk.
     *
     * <p>When no input requires a gradient (inference), the chunks run one after another instead,
     * each computing its output and the memory it hands on, and each chunk's temporaries are freed
     * before the next: memory does not grow with the number of chunks beyond {@code h} itself. The
     * two ways compute the same expressions (they agree within float32 round-off).
     *
     * @return {@code h} and the memory after the last position
     */
    public static Pair<NDArray, MLstmCellState> chunkwise(
            NDArray q, NDArray k, NDArray v, NDArray i, NDArray f,
            MLstmCellState state, int chunkSize, float eps) {
        if (!TensorOps.gradMode(q.getManager())) { // nothing recorded: free each chunk's temporaries
            return chunkwiseInference(q, k, v, i, f, state, chunkSize, eps);
        }
        Shape qs = q.getShape();
        long batch = qs.get(0);
        long heads = qs.get(1);
        long s = qs.get(2);
        long dqk = qs.get(3);
        long dv = v.getShape().get(3);
        int nc = (int) ((s + chunkSize - 1) / chunkSize);
        long pad = nc * (long) chunkSize - s;
        NDManager mgr = q.getManager();
        if (state == null) {
            state = zeroState(mgr, q.getDevice(), batch, heads, dqk, dv);
        }
        NDArray logf = TensorOps.logSigmoid(f);
        if (pad > 0) {
            Device dev = q.getDevice();
            DataType dt = q.getDataType();
            q = q.concat(mgr.zeros(new Shape(batch, heads, pad, dqk), dt, dev), 2);
            k = k.concat(mgr.zeros(new Shape(batch, heads, pad, dqk), dt, dev), 2);
            v = v.concat(mgr.zeros(new Shape(batch, heads, pad, dv), dt, dev), 2);
            logf = logf.concat(mgr.zeros(new Shape(batch, heads, pad), dt, dev), 2);
            i = i.concat(mgr.full(new Shape(batch, heads, pad), Float.NEGATIVE_INFINITY, dt, dev), 2);
        }
        long l = chunkSize;
        q = q.reshape(batch, heads, nc, l, dqk);
        k = k.reshape(batch, heads, nc, l, dqk);
        v = v.reshape(batch, heads, nc, l, dv);
        i = i.reshape(batch, heads, nc, l);
        NDArray b = logf.reshape(batch, heads, nc, l).cumSum(3); // decay from chunk start to l
        NDArray g = b.get(new NDIndex().addAllDim(3).addSliceDim(l - 1, l)); // [B, NH, NC, 1]
        NDArray a = g.sub(b).add(i); // [B, NH, NC, L]: log weight of position j at chunk end

        // Memory entering each chunk: m_next = max(g + m, max_j a_j), then rescale and add.
        NDList gs = g.split(nc, 2);
        NDList as = a.split(nc, 2);
        NDList ks = k.split(nc, 2);
        NDList vs = v.split(nc, 2);
        NDArray c = state.c(); // [B, NH, DHQK, DHV]
        NDArray n = state.n(); // [B, NH, DHQK]
        NDArray m = state.m(); // [B, NH, 1]
        List<NDArray> cs = new ArrayList<>(nc);
        List<NDArray> ns = new ArrayList<>(nc);
        List<NDArray> ms = new ArrayList<>(nc);
        for (int chunk = 0; chunk < nc; chunk++) {
            cs.add(c);
            ns.add(n);
            ms.add(m);
            NDArray gk = gs.get(chunk).reshape(batch, heads, 1);
            NDArray ak = as.get(chunk).reshape(batch, heads, l);
            NDArray decayed = gk.add(m);
            NDArray mNext = NDArrays.maximum(decayed, ak.max(new int[] {-1}, true)); // [B, NH, 1]
            NDArray decay = decayed.sub(mNext).exp(); // [B, NH, 1]
            NDArray kw = ks.get(chunk).reshape(batch, heads, l, dqk)
                    .mul(ak.sub(mNext).exp().expandDims(3)); // [B, NH, L, DHQK]
            NDArray vk = vs.get(chunk).reshape(batch, heads, l, dv);
            c = c.mul(decay.expandDims(3)).add(kw.transpose(0, 1, 3, 2).matMul(vk));
            n = n.mul(decay).add(kw.sum(new int[] {2}));
            m = mNext;
        }
        MLstmCellState last = new MLstmCellState(c, n, m);

        // Outputs of all chunks at once.
        NDArray cIn = NDArrays.stack(new NDList(cs), 2); // [B, NH, NC, DHQK, DHV]
        NDArray nIn = NDArrays.stack(new NDList(ns), 2).expandDims(4); // [B, NH, NC, DHQK, 1]
        NDArray mIn = NDArrays.stack(new NDList(ms), 2); // [B, NH, NC, 1]
        NDArray logD = decayMatrix(b, i, l); // [B, NH, NC, L, L]
        NDArray mInter = b.add(mIn); // [B, NH, NC, L]: the entering memory's weight at row l
        NDArray mRow = NDArrays.maximum(mInter, logD.max(new int[] {-1})); // [B, NH, NC, L]
        NDArray sBar = q.matMul(k.transpose(0, 1, 2, 4, 3)).mul(logD.sub(mRow.expandDims(4)).exp());
        NDArray qGated = q.mul(mInter.sub(mRow).exp().expandDims(4)); // [B, NH, NC, L, DHQK]
        NDArray num = qGated.matMul(cIn).add(sBar.matMul(v)); // [B, NH, NC, L, DHV]
        NDArray den = qGated.matMul(nIn).squeeze(4).add(sBar.sum(new int[] {-1})); // [B, NH, NC, L]
        NDArray bound = NDArrays.maximum(den.abs(), mRow.neg().exp()).add(TensorOps.scalar(den, eps));
        NDArray h = num.div(bound.expandDims(4)).reshape(batch, heads, nc * l, dv);
        if (pad > 0) {
            h = h.get(new NDIndex().addAllDim(2).addSliceDim(0, s));
        }
        return new Pair<>(h, last);
    }

    /**
     * {@link #chunkwise} without a gradient: chunk by chunk, each in its own {@link NDScope}, which
     * frees every array the chunk created except its output and the memory it hands on. The last
     * chunk is shorter instead of padded (padding changes nothing, see {@link #chunkwise}).
     */
    private static Pair<NDArray, MLstmCellState> chunkwiseInference(
            NDArray q, NDArray k, NDArray v, NDArray i, NDArray f,
            MLstmCellState state, int chunkSize, float eps) {
        Shape qs = q.getShape();
        long s = qs.get(2);
        if (state == null) {
            state = zeroState(q.getManager(), q.getDevice(), qs.get(0), qs.get(1), qs.get(3), v.getShape().get(3));
        }
        NDArray c = state.c(); // [B, NH, DHQK, DHV]
        NDArray n = state.n(); // [B, NH, DHQK]
        NDArray m = state.m(); // [B, NH, 1]
        NDList hs = new NDList();
        for (long start = 0; start < s; start += chunkSize) {
            long end = Math.min(s, start + chunkSize);
            long l = end - start;
            NDArray cNext;
            NDArray nNext;
            NDArray mNext;
            try (NDScope scope = new NDScope()) {
                NDArray qc = positions(q, start, end); // [B, NH, L, DHQK]
                NDArray kc = positions(k, start, end); // [B, NH, L, DHQK]
                NDArray vc = positions(v, start, end); // [B, NH, L, DHV]
                NDArray ic = positions(i, start, end); // [B, NH, L]
                NDArray b = TensorOps.logSigmoid(positions(f, start, end)).cumSum(2); // [B, NH, L]
                NDArray g = b.get(new NDIndex().addAllDim(2).addSliceDim(l - 1, l)); // [B, NH, 1]

                // The output: the memory entering the chunk plus the quadratic form inside it.
                NDArray logD = decayMatrix(b, ic, l); // [B, NH, L, L]
                NDArray mInter = b.add(m); // [B, NH, L]: the entering memory's weight at row l
                NDArray mRow = NDArrays.maximum(mInter, logD.max(new int[] {-1})); // [B, NH, L]
                NDArray sBar = qc.matMul(kc.transpose(0, 1, 3, 2)).mul(logD.sub(mRow.expandDims(3)).exp());
                NDArray qGated = qc.mul(mInter.sub(mRow).exp().expandDims(3)); // [B, NH, L, DHQK]
                NDArray num = qGated.matMul(c).add(sBar.matMul(vc)); // [B, NH, L, DHV]
                NDArray den = qGated.matMul(n.expandDims(3)).squeeze(3).add(sBar.sum(new int[] {-1})); // [B, NH, L]
                NDArray bound = NDArrays.maximum(den.abs(), mRow.neg().exp()).add(eps);
                NDArray h = num.div(bound.expandDims(3)); // [B, NH, L, DHV]

                // The memory after the chunk: m_next = max(g + m, max_j a_j), then rescale and add.
                NDArray a = g.sub(b).add(ic); // [B, NH, L]: log weight of position j at chunk end
                NDArray decayed = g.add(m); // [B, NH, 1]
                mNext = NDArrays.maximum(decayed, a.max(new int[] {-1}, true)); // [B, NH, 1]
                NDArray decay = decayed.sub(mNext).exp(); // [B, NH, 1]
                NDArray kw = kc.mul(a.sub(mNext).exp().expandDims(3)); // [B, NH, L, DHQK]
                cNext = c.mul(decay.expandDims(3)).add(kw.transpose(0, 1, 3, 2).matMul(vc));
                nNext = n.mul(decay).add(kw.sum(new int[] {2}));
                hs.add(h);
                NDScope.unregister(h, cNext, nNext, mNext);
            }
            if (c != state.c()) { // the previous chunk's memory, not the caller's
                c.close();
                n.close();
                m.close();
            }
            c = cNext;
            n = nNext;
            m = mNext;
        }
        NDArray h = hs.size() == 1 ? hs.get(0) : NDArrays.concat(hs, 2); // [B, NH, S, DHV]
        if (hs.size() > 1) {
            hs.close();
        }
        return new Pair<>(h, new MLstmCellState(c, n, m));
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
        NDManager mgr = b.getManager();
        NDArray pos = mgr.arange(0f, (float) l, 1f, DataType.FLOAT32, b.getDevice());
        NDArray future = pos.reshape(l, 1).lt(pos.reshape(1, l)); // [L, L]: j > t
        Shape square = new Shape(l, l);
        NDArray mask = NDArrays.where(
                future,
                mgr.full(square, Float.NEGATIVE_INFINITY, b.getDataType(), b.getDevice()),
                mgr.zeros(square, b.getDataType(), b.getDevice())); // 0 where j <= t, -inf after
        return b.expandDims(-1).sub(b.expandDims(-2)).add(mask).add(i.expandDims(-2));
    }
}
