package ai.djl.xlstm.examples.bench;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * What {@code xlstm bench} measures and how often (an immutable, validated record; build it with
 * {@link #builder()}). Every message names the command-line option of the bad value.
 *
 * @param suites the suites to run
 * @param batches decode batch sizes
 * @param positions decode positions: the prompt length before the measured steps
 * @param decodeSteps decode steps timed per batch size and position
 * @param decodeWarmup untimed decode steps before them
 * @param warmup untimed runs before the timed ones (prefill, train, roofline, scaling)
 * @param repeats timed runs (prefill, train, roofline; scaling where a run is short)
 * @param prefillLengths prompt lengths of the prefill suite
 * @param prefillSegment the most tokens per forward pass of the prefill (as generation's)
 * @param trainBatch sequences per training step
 * @param trainLength tokens per training sequence
 * @param scalingLengths sequence lengths of the scaling suite, ascending
 * @param timeBudgetSeconds the scaling suite skips a model at the lengths where one run would take longer
 * @param memoryBudgetBytes no suite starts a run whose estimated memory exceeds this
 * @param bandwidthBytes the size of the float32 matrix of the bandwidth measurement
 * @param matmulRows the rows M of the matmul measurement ({@code [M, in] x [in, out]})
 * @param seed the seed of the random token ids and weights
 */
public record BenchSettings(
        Set<Suite> suites, List<Integer> batches, List<Integer> positions, int decodeSteps, int decodeWarmup,
        int warmup, int repeats, List<Integer> prefillLengths, int prefillSegment, int trainBatch, int trainLength,
        List<Integer> scalingLengths, double timeBudgetSeconds, long memoryBudgetBytes, long bandwidthBytes,
        int matmulRows, long seed) {

    /** Validates every value, naming its option. */
    public BenchSettings {
        if (suites == null || suites.isEmpty()) {
            throw new IllegalArgumentException("--suite: name at least one suite");
        }
        suites = Set.copyOf(suites);
        batches = positiveList("--batch", batches, 1 << 16);
        positions = positiveList("--positions", positions, 1 << 26);
        prefillLengths = positiveList("--prefill-lengths", prefillLengths, 1 << 26);
        scalingLengths = positiveList("--lengths", scalingLengths, 1 << 26);
        for (int i = 1; i < scalingLengths.size(); i++) {
            require(scalingLengths.get(i) > scalingLengths.get(i - 1), "--lengths must be ascending, got " + scalingLengths);
        }
        require(decodeSteps >= 1, "--decode-steps must be >= 1, got " + decodeSteps);
        require(decodeWarmup >= 0, "--decode-warmup must be >= 0, got " + decodeWarmup);
        require(warmup >= 0, "--warmup must be >= 0, got " + warmup);
        require(repeats >= 1, "--repeats must be >= 1, got " + repeats);
        require(prefillSegment >= 1, "--prefill-segment must be >= 1, got " + prefillSegment);
        require(trainBatch >= 1, "--train-batch must be >= 1, got " + trainBatch);
        require(trainLength >= 2, "--train-length must be >= 2, got " + trainLength);
        require(timeBudgetSeconds > 0 && Double.isFinite(timeBudgetSeconds),
                "--time-budget must be > 0 seconds, got " + timeBudgetSeconds);
        require(memoryBudgetBytes > 0, "--memory-budget must be > 0, got " + memoryBudgetBytes + " bytes");
        require(bandwidthBytes >= 1 << 16, "--bandwidth-mb must be at least 64 KiB, got " + bandwidthBytes + " bytes");
        require(matmulRows >= 1, "--matmul-rows must be >= 1, got " + matmulRows);
    }

    /**
     * Whether {@code suite} runs.
     *
     * @param suite the suite
     * @return whether it was asked for
     */
    public boolean runs(Suite suite) {
        return suites.contains(suite);
    }

    /**
     * A builder with the defaults of {@code xlstm bench}.
     *
     * @return the builder
     */
    public static Builder builder() {
        return new Builder();
    }

    private static List<Integer> positiveList(String option, List<Integer> values, int max) {
        require(values != null && !values.isEmpty(), option + ": give at least one value");
        for (Integer v : values) {
            require(v != null && v >= 1 && v <= max, option + ": every value must be in [1, " + max + "], got " + values);
        }
        return List.copyOf(values);
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    /** Builds {@link BenchSettings}; {@link #build()} validates. */
    public static final class Builder {
        private Set<Suite> suites = EnumSet.of(Suite.PREFILL, Suite.DECODE);
        private List<Integer> batches = List.of(1, 8, 32);
        private List<Integer> positions = List.of(100, 10_000);
        private int decodeSteps = 64;
        private int decodeWarmup = 16;
        private int warmup = 1;
        private int repeats = 5;
        private List<Integer> prefillLengths = List.of(2048);
        private int prefillSegment = 512;
        private int trainBatch = 8;
        private int trainLength = 256;
        private List<Integer> scalingLengths = List.of(1024, 2048, 4096, 8192, 16384, 32768, 65536);
        private double timeBudgetSeconds = 60;
        private long memoryBudgetBytes = defaultMemoryBudget();
        private long bandwidthBytes = defaultBandwidthBytes();
        private int matmulRows = 512;
        private long seed;

        private Builder() {}

        /**
         * Half the physical memory (8 GiB where unknown).
         *
         * @return the default memory budget in bytes
         */
        public static long defaultMemoryBudget() {
            long total = Machine.memoryBytes();
            return total > 0 ? total / 2 : 8L << 30;
        }

        /**
         * Four times the last-level cache, at least 256 MiB: a matrix no cache holds.
         *
         * @return the default size of the bandwidth measurement's matrix in bytes
         */
        public static long defaultBandwidthBytes() {
            return Math.max(256L << 20, 4 * Machine.lastLevelCacheBytes());
        }

        /**
         * Sets the suites.
         *
         * @param value the suites
         * @return this builder
         */
        public Builder suites(Set<Suite> value) {
            suites = value;
            return this;
        }

        /**
         * Sets the decode batch sizes.
         *
         * @param value the batch sizes
         * @return this builder
         */
        public Builder batches(List<Integer> value) {
            batches = value;
            return this;
        }

        /**
         * Sets the decode positions.
         *
         * @param value the positions
         * @return this builder
         */
        public Builder positions(List<Integer> value) {
            positions = value;
            return this;
        }

        /**
         * Sets the timed decode steps.
         *
         * @param value the steps
         * @return this builder
         */
        public Builder decodeSteps(int value) {
            decodeSteps = value;
            return this;
        }

        /**
         * Sets the untimed decode steps.
         *
         * @param value the steps
         * @return this builder
         */
        public Builder decodeWarmup(int value) {
            decodeWarmup = value;
            return this;
        }

        /**
         * Sets the untimed runs.
         *
         * @param value the runs
         * @return this builder
         */
        public Builder warmup(int value) {
            warmup = value;
            return this;
        }

        /**
         * Sets the timed runs.
         *
         * @param value the runs
         * @return this builder
         */
        public Builder repeats(int value) {
            repeats = value;
            return this;
        }

        /**
         * Sets the prefill lengths.
         *
         * @param value the lengths
         * @return this builder
         */
        public Builder prefillLengths(List<Integer> value) {
            prefillLengths = value;
            return this;
        }

        /**
         * Sets the prefill segment.
         *
         * @param value the most tokens per forward pass
         * @return this builder
         */
        public Builder prefillSegment(int value) {
            prefillSegment = value;
            return this;
        }

        /**
         * Sets the training batch size.
         *
         * @param value the sequences per step
         * @return this builder
         */
        public Builder trainBatch(int value) {
            trainBatch = value;
            return this;
        }

        /**
         * Sets the training sequence length.
         *
         * @param value the tokens per sequence
         * @return this builder
         */
        public Builder trainLength(int value) {
            trainLength = value;
            return this;
        }

        /**
         * Sets the scaling lengths.
         *
         * @param value the lengths, ascending
         * @return this builder
         */
        public Builder scalingLengths(List<Integer> value) {
            scalingLengths = value;
            return this;
        }

        /**
         * Sets the time budget of one scaling run.
         *
         * @param value seconds
         * @return this builder
         */
        public Builder timeBudgetSeconds(double value) {
            timeBudgetSeconds = value;
            return this;
        }

        /**
         * Sets the memory budget.
         *
         * @param value bytes
         * @return this builder
         */
        public Builder memoryBudgetBytes(long value) {
            memoryBudgetBytes = value;
            return this;
        }

        /**
         * Sets the size of the bandwidth matrix.
         *
         * @param value bytes
         * @return this builder
         */
        public Builder bandwidthBytes(long value) {
            bandwidthBytes = value;
            return this;
        }

        /**
         * Sets the rows of the matmul measurement.
         *
         * @param value rows
         * @return this builder
         */
        public Builder matmulRows(int value) {
            matmulRows = value;
            return this;
        }

        /**
         * Sets the seed.
         *
         * @param value the seed
         * @return this builder
         */
        public Builder seed(long value) {
            seed = value;
            return this;
        }

        /**
         * Builds the settings.
         *
         * @return the settings
         */
        public BenchSettings build() {
            return new BenchSettings(suites, batches, positions, decodeSteps, decodeWarmup, warmup, repeats,
                    prefillLengths, prefillSegment, trainBatch, trainLength, scalingLengths, timeBudgetSeconds,
                    memoryBudgetBytes, bandwidthBytes, matmulRows, seed);
        }
    }
}
