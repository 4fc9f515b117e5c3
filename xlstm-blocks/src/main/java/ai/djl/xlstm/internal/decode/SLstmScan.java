package ai.djl.xlstm.internal.decode;

/**
 * The sLSTM cell's recurrence on the Java heap ({@code SLstmCell}'s equations): the per-head
 * recurrent product {@code R_h^T y_{t-1}} and the stabilized pointwise update, position after
 * position. One instance holds one cell's recurrent kernel.
 *
 * <p>Why: the recurrence is sequential, so libtorch runs it as ~25 small tensor operations per
 * position (one product, the gates' splits and the pointwise update), about 11 µs each; the
 * arithmetic is {@code 4 DH^2} multiply-adds per head and position, a few µs in Java. Used by a
 * prefill or any forward pass that records no gradients, and by the batch-1 decode step.
 *
 * <p>Public only for lack of module-wide visibility; not API.
 */
public final class SLstmScan {

    private final Kernels kernels;
    private final int heads; // NH
    private final int headDim; // DH
    private final float[] recurrent; // [NH, DH, 4 DH]: upstream's layout, y_h @ R_h

    private SLstmScan(Kernels kernels, float[] kernel, int heads, int headDim) {
        this.kernels = kernels;
        this.heads = heads;
        this.headDim = headDim;
        int cols = 4 * headDim;
        if (kernel.length != heads * headDim * cols) {
            throw new IllegalArgumentException("the recurrent kernel has " + kernel.length + " values, expected [NH "
                    + heads + ", DH " + headDim + ", 4 DH " + cols + "]");
        }
        recurrent = kernel; // the callers' own copy (read out of the parameter), not shared
    }

    /**
     * A scan over the recurrent kernel {@code kernel [NH, DH, 4 DH]} in upstream's layout
     * ({@code _recurrent_kernel_}: gate g of head h is {@code y_h @ R[h].reshape(DH, 4, DH)[:, g, :]}),
     * with the preferred kernels.
     *
     * @param kernel the recurrent kernel's values, row-major; kept (not copied): the caller must not
     *     change them
     * @param heads NH
     * @param headDim DH
     * @return the scan
     */
    public static SLstmScan of(float[] kernel, int heads, int headDim) {
        return of(Kernels.preferred(), kernel, heads, headDim);
    }

    static SLstmScan of(Kernels kernels, float[] kernel, int heads, int headDim) {
        return new SLstmScan(kernels, kernel, heads, headDim);
    }

    /** The bytes of the recurrent kernel held here. */
    long weightBytes() {
        return 4L * recurrent.length;
    }

    /**
     * Runs {@code len} positions of a batch. {@code pre [B, NH, S, 4 DH]} holds the input
     * projections plus the bias, in (i, f, z, o) order per head; the state {@code y, c, n, m},
     * each {@code [B, NH, DH]}, is read and updated in place; the hidden states go to
     * {@code out [B, NH, S, DH]}. Positions {@code [0, len)} of arrays whose sequence axis holds
     * {@code len} positions.
     *
     * @param pre the pre-activations without the recurrent part
     * @param batch B
     * @param len S
     * @param y the hidden state
     * @param c the cell state
     * @param n the normalizer state
     * @param m the stabilizer state
     * @param out the hidden states of every position
     */
    public void run(float[] pre, int batch, int len, float[] y, float[] c, float[] n, float[] m, float[] out) {
        int cols = 4 * headDim;
        long expected = (long) batch * heads * len * cols;
        if (pre.length < expected || out.length < expected / 4 || y.length < batch * heads * headDim) {
            throw new IllegalArgumentException("sLSTM scan arrays too short for B " + batch + ", S " + len + ", NH "
                    + heads + ", DH " + headDim);
        }
        float[] rec = new float[cols];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int bh = b * heads + h;
                int stateOff = bh * headDim;
                for (int t = 0; t < len; t++) {
                    int row = bh * len + t;
                    cell(pre, row * cols, y, c, n, m, stateOff, h, rec);
                    System.arraycopy(y, stateOff, out, row * headDim, headDim);
                }
            }
        }
    }

    /**
     * One position of one head: {@code raw[rawOff, rawOff + 4 DH)} are the gates' pre-activations
     * without the recurrent part; {@code y, c, n, m} at {@code [off, off + DH)} are updated in
     * place; {@code rec} is a work array of {@code 4 DH}.
     */
    void cell(float[] raw, int rawOff, float[] y, float[] c, float[] n, float[] m, int off, int head, float[] rec) {
        int cols = 4 * headDim;
        kernels.vecMat(y, off, headDim, recurrent, head * headDim * cols, cols, rec, 0); // y_{t-1} @ R_h
        for (int d = 0; d < headDim; d++) {
            float i = raw[rawOff + d] + rec[d];
            float f = raw[rawOff + headDim + d] + rec[headDim + d];
            float z = raw[rawOff + 2 * headDim + d] + rec[2 * headDim + d];
            float o = raw[rawOff + 3 * headDim + d] + rec[3 * headDim + d];
            float logfPlusM = Elementwise.logSigmoid(f) + m[off + d]; // log f_t + m_{t-1}
            // m_t = max(i~, log f + m_{t-1}); of i'_t = exp(i~ - m_t) and f'_t = exp(log f + m_{t-1} - m_t)
            // the larger is exp(0) = 1
            float mNew;
            float iAct;
            float fAct;
            if (i >= logfPlusM) {
                mNew = i;
                iAct = 1f;
                fAct = Elementwise.exp(logfPlusM - mNew);
            } else {
                mNew = logfPlusM;
                iAct = Elementwise.exp(i - mNew);
                fAct = 1f;
            }
            float cNew = fAct * c[off + d] + iAct * Elementwise.tanh(z); // eq. 8
            float nNew = fAct * n[off + d] + iAct; // eq. 9
            c[off + d] = cNew;
            n[off + d] = nNew;
            m[off + d] = mNew;
            y[off + d] = Elementwise.sigmoid(o) * cNew / nNew; // eq. 10
        }
    }
}
