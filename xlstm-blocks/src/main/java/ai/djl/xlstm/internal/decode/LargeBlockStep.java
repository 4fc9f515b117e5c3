package ai.djl.xlstm.internal.decode;

import ai.djl.xlstm.config.XLstmLargeConfig;

/**
 * One xLSTM Large block ({@code XLstmLargeBlock}, the xLSTM 7B architecture) for one position:
 * RMS norm, the mLSTM layer ({@code MLstmLargeLayer}: dense q, k, v, output gate and the
 * soft-capped input and forget gates, queries scaled by {@code 1/sqrt(DHQK)}, the stabilized
 * recurrent step of {@code MLstmKernels.step} with the cell eps, the multi-head layer norm, the
 * sigmoid output gate and out_proj), added to the residual stream; then RMS norm and the SwiGLU
 * feed-forward, added too.
 *
 * <p>Derived weights: q, k, v, ogate, igate and fgate as one {@code [2 QK + 2 V + 2 NH, D]}
 * matrix and proj_up_gate and proj_up as one {@code [2 F, D]} matrix, so that each normed input is
 * read by one matrix-vector pass; their biases likewise (zeros where the config has none).
 *
 * <p>State arrays: C {@code [NH, DHQK, DHV]}, n {@code [NH, DHQK]}, m {@code [NH, 1]}.
 */
final class LargeBlockStep implements BlockStep {

    private final Kernels kernels;
    private final int dim; // D
    private final int qk; // NH * DHQK
    private final int v; // NH * DHV
    private final int heads; // NH
    private final int dhqk;
    private final int dhv;
    private final int ffn; // F
    private final float normEps;
    private final float cellEps;
    private final float gateCap;
    private final float sqrtDhqk;
    private final float[] normMlstm; // [D]
    private final float[] normMlstmB; // [D] or null
    private final Matrix inW; // [2 QK + 2 V + 2 NH, D]: q, k, v, ogate, igate, fgate
    private final float[] inB; // [2 QK + 2 V + 2 NH]
    private final float[] headNorm; // [V]
    private final float[] headNormB; // [V] or null
    private final Matrix outW; // [D, V]
    private final float[] outB; // [D] or null
    private final float[] normFfn; // [D]
    private final float[] normFfnB; // [D] or null
    private final Matrix upW; // [2F, D]: proj_up_gate, then proj_up
    private final float[] upB; // [2F] or null
    private final Matrix downW; // [D, F]
    private final float[] downB; // [D] or null

    LargeBlockStep(Kernels kernels, XLstmLargeConfig c, Weights w, String prefix) {
        this.kernels = kernels;
        dim = c.embeddingDim();
        qk = c.qkDim();
        v = c.vDim();
        heads = c.numHeads();
        dhqk = qk / heads;
        dhv = v / heads;
        ffn = c.ffnUpDim();
        normEps = c.normEps();
        cellEps = c.eps();
        gateCap = c.gateSoftCap();
        sqrtDhqk = (float) Math.sqrt(qk / (double) heads);
        String l = prefix + "mlstm_layer.";
        normMlstm = w.get(prefix + "norm_mlstm.weight", dim);
        normMlstmB = w.optional(prefix + "norm_mlstm.bias", dim);
        String[] names = {"q", "k", "v", "ogate_preact", "igate_preact", "fgate_preact"};
        int[] rows = {qk, qk, v, v, heads, heads};
        inW = w.matrixOfRows(l, names, rows, dim);
        inB = w.biasesOf(l, names, rows);
        headNorm = w.get(l + "multihead_norm.weight", v);
        headNormB = w.optional(l + "multihead_norm.bias", v);
        outW = w.matrix(l + "out_proj.weight", dim, v);
        outB = w.optional(l + "out_proj.bias", dim);
        normFfn = w.get(prefix + "norm_ffn.weight", dim);
        normFfnB = w.optional(prefix + "norm_ffn.bias", dim);
        String f = prefix + "ffn.";
        String[] ffnNames = {"proj_up_gate", "proj_up"};
        int[] ffnRows = {ffn, ffn};
        upW = w.matrixOfRows(f, ffnNames, ffnRows, dim);
        upB = w.has(f + "proj_up.bias") ? w.biasesOf(f, ffnNames, ffnRows) : null;
        downW = w.matrix(f + "proj_down.weight", dim, ffn);
        downB = w.optional(f + "proj_down.bias", dim);
    }

    /** The length of the fused projections, for the scratch's {@code up}. */
    static int upLength(XLstmLargeConfig c) {
        return Math.max(2 * c.qkDim() + 2 * c.vDim() + 2 * c.numHeads(), 2 * c.ffnUpDim());
    }

    @Override
    public long weightBytes() {
        return inW.bytes() + outW.bytes() + upW.bytes() + downW.bytes()
                + BlockStep.bytes(normMlstm, normMlstmB, inB, headNorm, headNormB, outB, normFfn, normFfnB, upB, downB);
    }

    @Override
    public int stateArrays() {
        return 3;
    }

    @Override
    public void step(float[][] x, float[][][] states, int first, Scratch[] s, int batch) {
        float[][] xn = BlockStep.rows(s, batch, r -> r.xn);
        float[][] up = BlockStep.rows(s, batch, r -> r.up);
        float[][] hidden = BlockStep.rows(s, batch, r -> r.hidden);
        float[][] out = BlockStep.rows(s, batch, r -> r.out);
        for (int b = 0; b < batch; b++) {
            Elementwise.rmsNorm(x[b], 0, dim, normEps, normMlstm, normMlstmB, xn[b]);
        }
        kernels.matMat(inW, xn, 0, up, 0, batch); // [q | k | v | o | i | f]
        for (int b = 0; b < batch; b++) {
            cell(states[b], first, s[b]);
        }
        BlockStep.addProjection(kernels, outW, outB, hidden, out, x, batch);
        for (int b = 0; b < batch; b++) {
            Elementwise.rmsNorm(x[b], 0, dim, normEps, normFfn, normFfnB, xn[b]);
        }
        kernels.matMat(upW, xn, 0, up, 0, batch); // [gate | up]
        for (int b = 0; b < batch; b++) {
            float[] u = up[b];
            if (upB != null) {
                for (int r = 0; r < 2 * ffn; r++) {
                    u[r] += upB[r];
                }
            }
            for (int i = 0; i < ffn; i++) {
                hidden[b][i] = Elementwise.silu(u[i]) * u[ffn + i];
            }
        }
        BlockStep.addProjection(kernels, downW, downB, hidden, out, x, batch);
    }

    /**
     * One row between the fused input projection and out_proj: from {@code s.up} (q, k, v, o, i,
     * f), the stabilized cell step, the multi-head norm and the output gate, into {@code s.hidden}.
     */
    private void cell(float[][] state, int first, Scratch s) {
        float[] c = state[first]; // [NH, DHQK, DHV]
        float[] n = state[first + 1]; // [NH, DHQK]
        float[] m = state[first + 2]; // [NH, 1]
        float[] up = s.up;
        int rows = 2 * qk + 2 * v + 2 * heads;
        for (int r = 0; r < rows; r++) {
            up[r] += inB[r];
        }
        int kAt = qk;
        int vAt = 2 * qk;
        int oAt = 2 * qk + v;
        int iAt = 2 * qk + 2 * v;
        int fAt = iAt + heads;
        for (int a = 0; a < qk; a++) {
            up[a] /= sqrtDhqk; // q / sqrt(DHQK)
        }
        float[] h = s.hidden; // [V]
        java.util.Arrays.fill(h, 0, v, 0f);
        float[] ks = s.scaled; // [DHQK]
        for (int hd = 0; hd < heads; hd++) {
            int qOff = hd * dhqk;
            int vOff = hd * dhv;
            float ig = Elementwise.softCap(up[iAt + hd], gateCap);
            float fg = Elementwise.softCap(up[fAt + hd], gateCap);
            float logfPlusM = Elementwise.logSigmoid(fg) + m[hd];
            float mNew = Math.max(logfPlusM, ig);
            float fAct = Elementwise.exp(logfPlusM - mNew);
            float iAct = Elementwise.exp(ig - mNew);
            float qn = 0;
            for (int a = 0; a < dhqk; a++) {
                float k = up[kAt + qOff + a] * iAct;
                ks[a] = k;
                float na = n[qOff + a] * fAct + k;
                n[qOff + a] = na;
                qn += up[qOff + a] * na;
            }
            kernels.memoryUpdate(c, hd * dhqk * dhv, dhqk, dhv, fAct, ks, 0, up, vAt + vOff, up, qOff, h, vOff);
            float bound = Math.max(Math.abs(qn), Elementwise.exp(-mNew)) + cellEps;
            for (int b = 0; b < dhv; b++) {
                h[vOff + b] /= bound;
            }
            m[hd] = mNew;
            Elementwise.layerNorm(h, vOff, dhv, normEps, headNorm, vOff, h, vOff);
        }
        for (int i = 0; i < v; i++) {
            float y = headNormB == null ? h[i] : h[i] + headNormB[i];
            h[i] = Elementwise.sigmoid(up[oAt + i]) * y;
        }
    }
}
