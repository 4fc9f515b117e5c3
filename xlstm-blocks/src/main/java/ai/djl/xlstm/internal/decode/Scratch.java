package ai.djl.xlstm.internal.decode;

/** The work arrays of one decode state: sized once for the largest block, reused every step. */
final class Scratch {
    final float[] xn; // [D] a normed residual stream
    final float[] up; // [max(2E, 2P)] an up-projection
    final float[] xc; // [max(E, D)] conv output after SiLU
    final float[] qkv; // [max(3E, 4D)] q, k, v of the mLSTM cell; the four gate inputs of the sLSTM
    final float[] gates; // [max(2 NH, 4 DH)] mLSTM gate pre-activations; one sLSTM head's raw gates
    final float[] tmp; // [4 DH] one sLSTM head's recurrent contribution
    final float[] hidden; // [max(E, D, P)] a layer's hidden output
    final float[] out; // [D] a down-projection
    final float[] scaled; // [DH] one mLSTM head's k / sqrt(DH) * i

    Scratch(int dim, int inner, int ffn, int mHeads, int sHeadDim) {
        xn = new float[dim];
        up = new float[Math.max(2 * inner, 2 * ffn)];
        xc = new float[Math.max(inner, dim)];
        qkv = new float[Math.max(3 * inner, 4 * dim)];
        gates = new float[Math.max(2 * mHeads, 4 * sHeadDim)];
        tmp = new float[4 * sHeadDim];
        hidden = new float[Math.max(Math.max(inner, dim), ffn)];
        out = new float[dim];
        scaled = new float[inner];
    }
}
