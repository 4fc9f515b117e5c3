package ai.djl.xlstm.internal.decode;

import ai.djl.xlstm.config.FeedForwardConfig;
import ai.djl.xlstm.config.SLstmLayerConfig;

/**
 * One NeurIPS sLSTM block ({@code SLstmBlock}) for one position: offset layer norm, causal conv1d
 * and SiLU, the four headwise gate projections (fgate and igate from the conv output into the
 * cell's i and f slots, zgate and ogate from the normed input), the block-diagonal recurrent
 * kernel, the stabilized cell of {@code SLstmCell}, the group norm, the residual, then the gated
 * feed-forward with its own norm and residual.
 *
 * <p>State arrays: the conv window {@code [K - 1, D]} (where K > 0), then y, c, n, m, each
 * {@code [NH, DH]}.
 */
final class SLstmStep implements BlockStep {

    private static final float NORM_EPS = 1e-5f;

    private final Kernels kernels;
    private final int dim; // D
    private final int heads; // NH
    private final int headDim; // DH
    private final int kernel; // K
    private final int ffn; // P
    private final Elementwise.Activation act;
    private final float[] norm; // [D] 1 + w
    private final float[] convW; // [K, D]
    private final float[] convB; // [D]
    private final float[] gateW; // [4, NH, DH, DH]: the cell's i (fgate), f (igate), z, o
    private final SLstmScan cell; // the recurrent kernel and the stabilized update
    private final float[] bias; // [NH, 4 DH]
    private final float[] groupNorm; // [D] 1 + w
    private final float[] ffnNorm; // [D] 1 + w
    private final Matrix upW; // [2P, D]
    private final float[] upB; // [2P] or null
    private final Matrix downW; // [D, P]
    private final float[] downB; // [D] or null

    SLstmStep(Kernels kernels, SLstmLayerConfig c, FeedForwardConfig f, Weights w, String prefix) {
        this.kernels = kernels;
        dim = c.embeddingDim();
        heads = c.numHeads();
        headDim = c.headDim();
        kernel = c.conv1dKernelSize();
        ffn = f.projUpDim();
        act = Elementwise.Activation.of(f.actFn());
        String x = prefix + "xlstm.";
        norm = w.onePlus(prefix + "xlstm_norm.weight", dim);
        convW = kernel > 0 ? w.convTransposed(x + "conv1d.conv.weight", dim, kernel) : null;
        convB = kernel > 0 ? w.get(x + "conv1d.conv.bias", dim) : null;
        int blockSize = dim * headDim;
        gateW = new float[4 * blockSize];
        String[] slots = {"fgate", "igate", "zgate", "ogate"}; // the order of SLstmLayer's concat
        for (int g = 0; g < 4; g++) {
            System.arraycopy(w.get(x + slots[g] + ".weight", heads, headDim, headDim), 0, gateW, g * blockSize,
                    blockSize);
        }
        cell = SLstmScan.of(kernels, w.get(x + "slstm_cell._recurrent_kernel_", heads, headDim, 4L * headDim),
                heads, headDim);
        bias = w.get(x + "slstm_cell._bias_", 4L * dim);
        groupNorm = w.onePlus(x + "group_norm.weight", dim);
        ffnNorm = w.onePlus(prefix + "ffn_norm.weight", dim);
        upW = w.matrix(prefix + "ffn.proj_up.weight", 2 * ffn, dim);
        upB = w.optional(prefix + "ffn.proj_up.bias", 2L * ffn);
        downW = w.matrix(prefix + "ffn.proj_down.weight", dim, ffn);
        downB = w.optional(prefix + "ffn.proj_down.bias", dim);
    }

    @Override
    public long weightBytes() {
        return upW.bytes() + downW.bytes() + cell.weightBytes()
                + BlockStep.bytes(norm, convW, convB, gateW, bias, groupNorm, ffnNorm, upB, downB);
    }

    @Override
    public int stateArrays() {
        return (kernel > 0 ? 1 : 0) + 4;
    }

    @Override
    public void step(float[][] x, float[][][] states, int first, Scratch[] s, int batch) {
        for (int b = 0; b < batch; b++) {
            cellAndFfnNorm(x[b], states[b], first, s[b]);
        }
        kernels.matMat(upW, BlockStep.rows(s, batch, r -> r.xn), 0, BlockStep.rows(s, batch, r -> r.up), 0, batch);
        for (int b = 0; b < batch; b++) { // [2P]: gate then value
            Scratch r = s[b];
            if (upB != null) {
                for (int i = 0; i < 2 * ffn; i++) {
                    r.up[i] += upB[i];
                }
            }
            for (int i = 0; i < ffn; i++) {
                r.hidden[i] = Elementwise.activate(act, r.up[i]) * r.up[ffn + i];
            }
        }
        BlockStep.addProjection(kernels, downW, downB, BlockStep.rows(s, batch, r -> r.hidden),
                BlockStep.rows(s, batch, r -> r.out), x, batch);
    }

    /**
     * One row up to the feed-forward's products: norm, conv, gates, the cell and the group norm
     * added to {@code x}, then the feed-forward's norm of {@code x} into {@code s.xn}.
     */
    private void cellAndFfnNorm(float[] x, float[][] state, int first, Scratch s) {
        int at = first;
        float[] window = kernel > 0 ? state[at++] : null; // [K - 1, D]
        float[] y = state[at++]; // [NH, DH]
        float[] c = state[at++];
        float[] n = state[at++];
        float[] m = state[at];

        float[] xn = s.xn;
        Elementwise.layerNorm(x, 0, dim, NORM_EPS, norm, 0, xn, 0);
        float[] xc = xn;
        if (kernel > 0) {
            xc = s.xc;
            Elementwise.causalConvSilu(window, convW, convB, kernel, dim, xn, xc);
        }
        float[] wx = s.qkv; // [4, D]: gate-major
        int blockSize = dim * headDim;
        for (int g = 0; g < 4; g++) {
            float[] in = g < 2 ? xc : xn;
            for (int h = 0; h < heads; h++) {
                kernels.matVec(gateW, g * blockSize + h * headDim * headDim, headDim, headDim, in, h * headDim,
                        wx, g * dim + h * headDim);
            }
        }
        float[] raw = s.gates; // [4 DH]: one head's i, f, z, o
        float[] rec = s.tmp;
        int cols = 4 * headDim;
        for (int h = 0; h < heads; h++) {
            int off = h * headDim;
            for (int j = 0; j < cols; j++) {
                raw[j] = wx[(j / headDim) * dim + off + j % headDim] + bias[h * cols + j];
            }
            cell.cell(raw, 0, y, c, n, m, off, h, rec);
        }
        float[] h = s.hidden; // [D]
        for (int hd = 0; hd < heads; hd++) {
            Elementwise.layerNorm(y, hd * headDim, headDim, NORM_EPS, groupNorm, hd * headDim, h, hd * headDim);
        }
        for (int i = 0; i < dim; i++) {
            x[i] += h[i];
        }
        // gated feed-forward: its norm here, its products for the whole batch in step()
        Elementwise.layerNorm(x, 0, dim, NORM_EPS, ffnNorm, 0, xn, 0);
    }
}
