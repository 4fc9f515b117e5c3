package ai.djl.xlstm.components;

/**
 * The form in which the mLSTM cell runs over a sequence of more than one token (a single token
 * always takes the recurrent step). This is an execution choice, not part of the model: every form
 * gives the same outputs within float32 round-off, and none is saved with the model.
 *
 * <p>A model sets the form once for all its mLSTM cells ({@code XLstmLanguageModel.setForm}); each
 * architecture has its default ({@link #DEFAULT} for the NeurIPS model, {@link #inference(int)} of
 * its chunk size for xLSTM Large).
 *
 * @param kind the sequence form
 * @param chunkSize the chunk length of the chunkwise form, also used by the parallel form where a
 *     state is carried; at least 1
 * @param recurrentTail for the chunkwise form, whether the last {@code S % chunkSize} positions run
 *     through the recurrent step (upstream xLSTM Large's inference mode) instead of a padded last
 *     chunk
 */
public record MLstmForm(Kind kind, int chunkSize, boolean recurrentTail) {

    /** The sequence forms of the mLSTM cell. */
    public enum Kind {
        /**
         * The stabilized quadratic form of the paper ({@code [S, S]} decay matrices); used only from
         * an empty memory when no state is returned, else the chunkwise form runs.
         */
        PARALLEL,
        /** The chunkwise form: linear memory in the sequence length. */
        CHUNKWISE,
        /** The recurrent step at every position. */
        RECURRENT
    }

    /**
     * The longest sequence the parallel form runs: its {@code [S, S]} decay matrices grow with the
     * square of the length (20,000 tokens needed more than 14 GB), so longer sequences take the
     * chunkwise form, linear in S.
     */
    public static final int MAX_PARALLEL_LENGTH = 1024;

    /**
     * The NeurIPS model's form: parallel, as upstream's forward runs, and chunkwise in chunks of 64
     * where a state is carried.
     */
    public static final MLstmForm DEFAULT = parallel(64);

    /**
     * Validates the form.
     *
     * @param kind the sequence form
     * @param chunkSize the chunk length, at least 1
     * @param recurrentTail whether the chunkwise form's remainder takes the recurrent step
     * @throws IllegalArgumentException if {@code kind} is null or {@code chunkSize} is not positive
     */
    public MLstmForm {
        if (kind == null) {
            throw new IllegalArgumentException("mLSTM form kind must not be null");
        }
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("mLSTM chunk size must be > 0, got " + chunkSize);
        }
    }

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
        return kind == Kind.PARALLEL && !hasState && !needState && length <= MAX_PARALLEL_LENGTH;
    }

    /**
     * The chunkwise form with a padded last chunk.
     *
     * @param chunkSize the chunk length
     * @return the form
     */
    public static MLstmForm chunkwise(int chunkSize) {
        return new MLstmForm(Kind.CHUNKWISE, chunkSize, false);
    }

    /**
     * Upstream xLSTM Large's inference form: chunkwise, the last {@code S % chunkSize} positions
     * through the recurrent step.
     *
     * @param chunkSize the chunk length
     * @return the form
     */
    public static MLstmForm inference(int chunkSize) {
        return new MLstmForm(Kind.CHUNKWISE, chunkSize, true);
    }

    /**
     * The parallel form (chunkwise with {@code chunkSize} where a state is needed).
     *
     * @param chunkSize the chunk length where a state is needed
     * @return the form
     */
    public static MLstmForm parallel(int chunkSize) {
        return new MLstmForm(Kind.PARALLEL, chunkSize, false);
    }

    /**
     * The recurrent step at every position ({@code chunkSize} is used only to cut long inference
     * passes into segments).
     *
     * @param chunkSize the segment granularity
     * @return the form
     */
    public static MLstmForm recurrent(int chunkSize) {
        return new MLstmForm(Kind.RECURRENT, chunkSize, false);
    }
}
