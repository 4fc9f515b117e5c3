package ai.djl.xlstm.components;

/**
 * How the mLSTM cell runs over a sequence of more than one token (a single token always takes
 * the recurrent step). This is an execution choice, not part of the model: every choice gives the
 * same outputs within float32 round-off.
 *
 * @param form the sequence form
 * @param chunkSize the chunk length of the chunkwise form
 * @param recurrentTail for the chunkwise form, whether the last {@code S % chunkSize} positions
 *     run through the recurrent step (upstream xLSTM Large's inference mode) instead of a padded
 *     last chunk
 */
public record MLstmBackend(Form form, int chunkSize, boolean recurrentTail) {

    /** The sequence forms of the mLSTM cell. */
    public enum Form {
        /** The stabilized quadratic form; used only from an empty memory when no state is returned. */
        PARALLEL,
        /** The chunkwise form: linear memory in the sequence length. */
        CHUNKWISE,
        /** The recurrent step at every position. */
        RECURRENT
    }

    /** Validates the options. */
    public MLstmBackend {
        if (form == null) {
            throw new IllegalArgumentException("mLSTM backend form must not be null");
        }
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("mLSTM chunk size must be > 0, got " + chunkSize);
        }
    }

    /**
     * The longest sequence the parallel form runs: its {@code [S, S]} decay matrices grow with the
     * square of the length (20,000 tokens needed more than 14 GB), so longer sequences take the
     * chunkwise form, linear in S.
     */
    public static final int MAX_PARALLEL_LENGTH = 1024;

    /**
     * Whether a sequence of {@code length} runs in the parallel form: when that is the form chosen,
     * the memory starts empty and no state is wanted, and the sequence is at most {@link
     * #MAX_PARALLEL_LENGTH} long.
     *
     * @param length the sequence length
     * @param hasState whether the sequence starts from a state
     * @param needState whether the state after it is wanted
     * @return whether the parallel form runs
     */
    public boolean useParallel(long length, boolean hasState, boolean needState) {
        return form == Form.PARALLEL && !hasState && !needState && length <= MAX_PARALLEL_LENGTH;
    }

    /**
     * The chunkwise form with a padded last chunk.
     *
     * @param chunkSize the chunk length
     * @return the backend
     */
    public static MLstmBackend chunkwise(int chunkSize) {
        return new MLstmBackend(Form.CHUNKWISE, chunkSize, false);
    }

    /**
     * The parallel form (chunkwise with {@code chunkSize} where a state is needed).
     *
     * @param chunkSize the chunk length where a state is needed
     * @return the backend
     */
    public static MLstmBackend parallel(int chunkSize) {
        return new MLstmBackend(Form.PARALLEL, chunkSize, false);
    }
}
