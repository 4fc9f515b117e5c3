package ai.djl.xlstm.internal.decode;

/**
 * One block of the stack, one position of each of {@code batch} sequences. Each weight matrix is
 * read once per step for the whole batch ({@link Kernels#matMat}); everything else runs row by
 * row, so a row of a batch computes exactly what a batch of one computes.
 */
interface BlockStep {

    /**
     * Runs the block on the residual streams {@code x[b] [D]} in place, reading and updating each
     * row's state arrays {@code states[b][first, first + stateArrays())} (in the order of
     * {@code XLstmState.toNDList()}, batch dimension dropped), with the work arrays {@code s[b]}.
     */
    void step(float[][] x, float[][][] states, int first, Scratch[] s, int batch);

    /**
     * A projection added to the residual streams: {@code out[b] = w in[b]}, then {@code x[b] +=
     * out[b] + bias} ({@code bias} may be null), for every row.
     */
    static void addProjection(Kernels kernels, Matrix w, float[] bias, float[][] in, float[][] out, float[][] x,
            int batch) {
        kernels.matMat(w, in, 0, out, 0, batch);
        for (int b = 0; b < batch; b++) {
            float[] o = out[b];
            float[] xb = x[b];
            for (int i = 0; i < w.rows; i++) {
                xb[i] += bias == null ? o[i] : o[i] + bias[i];
            }
        }
    }

    /** The work array {@code field} of each row. */
    static float[][] rows(Scratch[] s, int batch, java.util.function.Function<Scratch, float[]> field) {
        float[][] out = new float[batch][];
        for (int b = 0; b < batch; b++) {
            out[b] = field.apply(s[b]);
        }
        return out;
    }

    /** How many arrays this block's state has. */
    int stateArrays();

    /** The bytes of this block's weights as held here. */
    long weightBytes();

    /** The bytes of float32 arrays (null ones count 0). */
    static long bytes(float[]... arrays) {
        long n = 0;
        for (float[] a : arrays) {
            n += a == null ? 0 : 4L * a.length;
        }
        return n;
    }
}
