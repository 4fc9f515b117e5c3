package ai.djl.xlstm.internal.decode;

/** The work arrays of one decode state: sized once for the largest block, reused every step. */
final class Scratch {
    final float[] xn; // [D] a normed residual stream
    final float[] up; // [max(2E, 2P)] an up-projection; Large: the fused q/k/v/gates or ffn projection
    final float[] xc; // [max(E, D)] conv output after SiLU
    final float[] qkv; // [max(3E, 4D)] q, k, v of the mLSTM cell; the four gate inputs of the sLSTM
    final float[] gates; // [max(2 NH, 4 DH)] mLSTM gate pre-activations; one sLSTM head's raw gates
    final float[] tmp; // [4 DH] one sLSTM head's recurrent contribution
    final float[] hidden; // [max(E, D, P)] a layer's hidden output
    final float[] out; // [D] a down-projection
    final float[] scaled; // [DH] one mLSTM head's k / sqrt(DH) * i

    /** The lengths of the arrays, in the order of the fields. */
    private final int[] lengths;

    private Scratch(int[] z) {
        lengths = z.clone();
        xn = new float[z[0]];
        up = new float[z[1]];
        xc = new float[z[2]];
        qkv = new float[z[3]];
        gates = new float[z[4]];
        tmp = new float[z[5]];
        hidden = new float[z[6]];
        out = new float[z[7]];
        scaled = new float[z[8]];
    }

    /** The work arrays of a NeurIPS model. */
    static Scratch neurips(int dim, int inner, int ffn, int mHeads, int sHeadDim) {
        return new Scratch(new int[] {
            dim,
            Math.max(2 * inner, 2 * ffn),
            Math.max(inner, dim),
            Math.max(3 * inner, 4 * dim),
            Math.max(2 * mHeads, 4 * sHeadDim),
            4 * sHeadDim,
            Math.max(Math.max(inner, dim), ffn),
            dim,
            inner
        });
    }

    /**
     * The work arrays of an xLSTM Large model: {@code up} of {@code upLength}, {@code hidden} of
     * {@code max(V, F)}, {@code scaled} of DHQK.
     */
    static Scratch large(int dim, int upLength, int hidden, int dhqk) {
        return new Scratch(new int[] {dim, upLength, 0, 0, 0, 0, hidden, dim, dhqk});
    }

    /** New arrays of the same lengths. */
    Scratch fresh() {
        return new Scratch(lengths);
    }
}
