package ai.djl.xlstm.internal.decode;

/** One block of the stack, one position, batch 1. */
interface BlockStep {

    /**
     * Runs the block on the residual stream {@code x [D]} in place, reading and updating this
     * block's state arrays {@code state[first, first + stateArrays())} (in the order of
     * {@code XLstmState.toNDList()}, batch dimension dropped).
     */
    void step(float[] x, float[][] state, int first, Scratch s);

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
