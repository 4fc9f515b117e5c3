package ai.djl.xlstm.internal.decode;

import ai.djl.xlstm.config.MLstmLayerConfig;

/**
 * One NeurIPS mLSTM block ({@code MLstmBlock}) for one position: offset layer norm, proj_up into
 * x and z, causal conv1d and SiLU, headwise q/k/v, the input and forget gates from concat(q, k, v),
 * the stabilized recurrent step of {@code MLstmKernels.step}, the multi-head norm, the learnable
 * skip, the output gate SiLU(z) and proj_down, added to the residual stream.
 *
 * <p>State arrays: the conv window {@code [K - 1, E]} (where K > 0), C {@code [NH, DH, DH]}, n
 * {@code [NH, DH]}, m {@code [NH]}.
 */
final class MLstmStep implements BlockStep {

    private static final float NORM_EPS = 1e-5f;
    private static final float CELL_EPS = 1e-6f;

    private final Kernels kernels;
    private final int dim; // D
    private final int inner; // E
    private final int heads; // NH
    private final int headDim; // DH
    private final int kernel; // K
    private final int block; // qkv_proj_blocksize
    private final float sqrtHeadDim;
    private final float[] norm; // [D] 1 + w
    private final Matrix upW; // [2E, D]
    private final float[] upB; // [2E] or null
    private final float[] convW; // [K, E]
    private final float[] convB; // [E]
    private final float[] qW; // [E / block, block, block]
    private final float[] kW;
    private final float[] vW;
    private final float[] gateW; // [2 NH, 3E]: igate rows, then fgate rows
    private final float[] gateB; // [2 NH]
    private final float[] outNorm; // [E] 1 + w
    private final float[] skip; // [E]
    private final Matrix downW; // [D, E]
    private final float[] downB; // [D] or null

    MLstmStep(Kernels kernels, MLstmLayerConfig c, Weights w, String prefix) {
        this.kernels = kernels;
        dim = c.embeddingDim();
        inner = c.innerDim();
        heads = c.numHeads();
        headDim = c.headDim();
        kernel = c.conv1dKernelSize();
        block = c.qkvProjBlocksize();
        sqrtHeadDim = (float) Math.sqrt(headDim);
        String x = prefix + "xlstm.";
        norm = w.onePlus(prefix + "xlstm_norm.weight", dim);
        upW = w.matrix(x + "proj_up.weight", 2 * inner, dim);
        upB = w.optional(x + "proj_up.bias", 2L * inner);
        convW = kernel > 0 ? w.convTransposed(x + "conv1d.conv.weight", inner, kernel) : null;
        convB = kernel > 0 ? w.get(x + "conv1d.conv.bias", inner) : null;
        int projHeads = inner / block;
        qW = w.get(x + "q_proj.weight", projHeads, block, block);
        kW = w.get(x + "k_proj.weight", projHeads, block, block);
        vW = w.get(x + "v_proj.weight", projHeads, block, block);
        gateW = new float[2 * heads * 3 * inner];
        System.arraycopy(w.get(x + "mlstm_cell.igate.weight", heads, 3L * inner), 0, gateW, 0, heads * 3 * inner);
        System.arraycopy(w.get(x + "mlstm_cell.fgate.weight", heads, 3L * inner), 0, gateW, heads * 3 * inner,
                heads * 3 * inner);
        gateB = new float[2 * heads];
        System.arraycopy(w.get(x + "mlstm_cell.igate.bias", heads), 0, gateB, 0, heads);
        System.arraycopy(w.get(x + "mlstm_cell.fgate.bias", heads), 0, gateB, heads, heads);
        outNorm = w.onePlus(x + "mlstm_cell.outnorm.weight", inner);
        skip = w.get(x + "learnable_skip", inner);
        downW = w.matrix(x + "proj_down.weight", dim, inner);
        downB = w.optional(x + "proj_down.bias", dim);
    }

    @Override
    public long weightBytes() {
        return upW.bytes() + downW.bytes()
                + BlockStep.bytes(norm, upB, convW, convB, qW, kW, vW, gateW, gateB, outNorm, skip, downB);
    }

    @Override
    public int stateArrays() {
        return (kernel > 0 ? 1 : 0) + 3;
    }

    @Override
    public void step(float[][] x, float[][][] states, int first, Scratch[] s, int batch) {
        for (int b = 0; b < batch; b++) {
            Elementwise.layerNorm(x[b], 0, dim, NORM_EPS, norm, 0, s[b].xn, 0);
        }
        kernels.matMat(upW, BlockStep.rows(s, batch, r -> r.xn), 0, BlockStep.rows(s, batch, r -> r.up), 0,
                batch); // [2E]: x then z
        for (int b = 0; b < batch; b++) {
            cell(states[b], first, s[b]);
        }
        BlockStep.addProjection(kernels, downW, downB, BlockStep.rows(s, batch, r -> r.hidden),
                BlockStep.rows(s, batch, r -> r.out), x, batch);
    }

    /**
     * One row between the up- and the down-projection: from {@code s.up} (x then z), the conv, q,
     * k, v, the gates and the cell, into {@code s.hidden}.
     */
    private void cell(float[][] state, int first, Scratch s) {
        int at = first;
        float[] window = kernel > 0 ? state[at++] : null; // [K - 1, E]
        float[] c = state[at++]; // [NH, DH, DH]
        float[] n = state[at++]; // [NH, DH]
        float[] m = state[at]; // [NH]
        int e = inner;
        if (upB != null) {
            for (int i = 0; i < 2 * e; i++) {
                s.up[i] += upB[i];
            }
        }
        // conv over the window and this position, then SiLU; the window moves on by one position
        float[] up = s.up;
        float[] xc = s.xc;
        if (kernel > 0) {
            Elementwise.causalConvSilu(window, convW, convB, kernel, e, up, xc);
        } else {
            for (int i = 0; i < e; i++) {
                xc[i] = Elementwise.silu(up[i]);
            }
        }
        float[] qkv = s.qkv; // [3E]
        headwise(qW, xc, qkv, 0);
        headwise(kW, xc, qkv, e);
        headwise(vW, up, qkv, 2 * e);
        float[] g = s.gates; // [2 NH]
        kernels.matVec(gateW, 0, 2 * heads, 3 * e, qkv, 0, g, 0);
        float[] h = s.hidden; // [E]
        java.util.Arrays.fill(h, 0, e, 0f);
        for (int hd = 0; hd < heads; hd++) {
            int off = hd * headDim;
            float ig = g[hd] + gateB[hd];
            float fg = g[heads + hd] + gateB[heads + hd];
            float logfPlusM = Elementwise.logSigmoid(fg) + m[hd];
            float mNew = Math.max(logfPlusM, ig);
            float fAct = Elementwise.exp(logfPlusM - mNew);
            float iAct = Elementwise.exp(ig - mNew);
            float qn = 0;
            for (int a = 0; a < headDim; a++) {
                float ks = qkv[e + off + a] / sqrtHeadDim * iAct;
                s.scaled[a] = ks;
                float na = n[off + a] * fAct + ks;
                n[off + a] = na;
                qn += qkv[off + a] * na;
            }
            kernels.memoryUpdate(c, hd * headDim * headDim, headDim, headDim, fAct, s.scaled, 0,
                    qkv, 2 * e + off, qkv, off, h, off);
            float bound = Math.max(Math.abs(qn), Elementwise.exp(-mNew)) + CELL_EPS;
            for (int b = 0; b < headDim; b++) {
                h[off + b] /= bound;
            }
            m[hd] = mNew;
            Elementwise.layerNorm(h, off, headDim, NORM_EPS, outNorm, off, h, off);
        }
        for (int i = 0; i < e; i++) {
            h[i] = (h[i] + xc[i] * skip[i]) * Elementwise.silu(up[e + i]);
        }
    }

    /** {@code LinearHeadwiseExpand}: block-diagonal {@code [E / block]} heads of {@code [block, block]}. */
    private void headwise(float[] w, float[] in, float[] out, int outOff) {
        for (int p = 0; p < inner / block; p++) {
            kernels.matVec(w, p * block * block, block, block, in, p * block, out, outOff + p * block);
        }
    }
}
