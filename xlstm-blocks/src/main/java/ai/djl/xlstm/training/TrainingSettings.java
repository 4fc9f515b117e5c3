package ai.djl.xlstm.training;

/**
 * The hyper-parameters of a training run. Immutable; build it with {@link #builder()}, which
 * fills in the defaults upstream trains small models with. Every setting is validated, and a bad
 * one is refused with a message that names it and its value.
 *
 * @param steps the number of optimizer updates to reach (>= 1)
 * @param batchSize sequences per micro-batch (>= 1)
 * @param accumulationSteps micro-batches per update (>= 1)
 * @param learningRate the peak learning rate (> 0, finite)
 * @param minLearningRate the learning rate at the end of the cosine decay, in {@code [0,
 *     learningRate]}
 * @param warmupSteps updates of linear warm-up from 0 (>= 0)
 * @param weightDecay the decoupled weight decay of weight matrices (>= 0, finite)
 * @param maxGradNorm the global gradient norm clip (>= 0, finite; 0: none)
 * @param seed the seed of the initialization and of the data order
 * @param logEvery updates between rows of the metrics log (>= 1)
 * @param validateEvery updates between validations (>= 0; 0: only at the end)
 * @param validationBatches batches of the validation set per validation (>= 0; 0: all)
 * @param checkpointEvery updates between checkpoints (>= 0; 0: only at the end)
 */
public record TrainingSettings(
        int steps,
        int batchSize,
        int accumulationSteps,
        float learningRate,
        float minLearningRate,
        int warmupSteps,
        float weightDecay,
        float maxGradNorm,
        long seed,
        int logEvery,
        int validateEvery,
        int validationBatches,
        int checkpointEvery) {

    /**
     * Validates every setting; the message names the setting and the value.
     *
     * @param steps the number of optimizer updates to reach (>= 1)
     * @param batchSize sequences per micro-batch (>= 1)
     * @param accumulationSteps micro-batches per update (>= 1)
     * @param learningRate the peak learning rate (> 0, finite)
     * @param minLearningRate the learning rate at the end of the cosine decay, in {@code [0,
     *     learningRate]}
     * @param warmupSteps updates of linear warm-up from 0 (>= 0)
     * @param weightDecay the decoupled weight decay of weight matrices (>= 0, finite)
     * @param maxGradNorm the global gradient norm clip (>= 0, finite; 0: none)
     * @param seed the seed of the initialization and of the data order
     * @param logEvery updates between rows of the metrics log (>= 1)
     * @param validateEvery updates between validations (>= 0; 0: only at the end)
     * @param validationBatches batches of the validation set per validation (>= 0; 0: all)
     * @param checkpointEvery updates between checkpoints (>= 0; 0: only at the end)
     * @throws IllegalArgumentException if a setting is outside its range; the message names the
     *     setting and the value
     */
    public TrainingSettings {
        require(steps >= 1, "steps must be >= 1, got " + steps);
        require(batchSize >= 1, "batchSize must be >= 1, got " + batchSize);
        require(accumulationSteps >= 1, "accumulationSteps must be >= 1, got " + accumulationSteps);
        require(learningRate > 0 && Float.isFinite(learningRate), "learningRate must be > 0 and finite, got "
                + learningRate);
        require(minLearningRate >= 0 && minLearningRate <= learningRate,
                "minLearningRate must be in [0, learningRate = " + learningRate + "], got " + minLearningRate);
        require(warmupSteps >= 0, "warmupSteps must be >= 0, got " + warmupSteps);
        require(weightDecay >= 0 && Float.isFinite(weightDecay), "weightDecay must be >= 0 and finite, got "
                + weightDecay);
        require(maxGradNorm >= 0 && Float.isFinite(maxGradNorm), "maxGradNorm must be >= 0 and finite (0 is off), got "
                + maxGradNorm);
        require(logEvery >= 1, "logEvery must be >= 1, got " + logEvery);
        require(validateEvery >= 0, "validateEvery must be >= 0 (0: only at the end), got " + validateEvery);
        require(validationBatches >= 0, "validationBatches must be >= 0 (0: all), got " + validationBatches);
        require(checkpointEvery >= 0, "checkpointEvery must be >= 0 (0: only at the end), got " + checkpointEvery);
    }

    /**
     * A builder with upstream's defaults for small models: AdamW at 1e-3 with cosine decay to a
     * tenth of it, 10% of the steps of warm-up, weight decay 0.1, clipping at 1, batches of 8, no
     * accumulation, seed 0, a metrics row every 1% of the steps (at most every 10), validation and
     * a checkpoint only at the end. The number of steps has no default.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder starting from these settings.
     *
     * @return a new builder with every setting of this one
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.steps = steps;
        b.batchSize = batchSize;
        b.accumulationSteps = accumulationSteps;
        b.learningRate = learningRate;
        b.minLearningRate = minLearningRate;
        b.warmupSteps = warmupSteps;
        b.weightDecay = weightDecay;
        b.maxGradNorm = maxGradNorm;
        b.seed = seed;
        b.logEvery = logEvery;
        b.validateEvery = validateEvery;
        b.validationBatches = validationBatches;
        b.checkpointEvery = checkpointEvery;
        return b;
    }

    /**
     * A copy with another number of steps.
     *
     * @param newSteps the number of updates
     * @return the copy
     */
    public TrainingSettings withSteps(int newSteps) {
        return toBuilder().steps(newSteps).build();
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    /**
     * Builds {@link TrainingSettings}; {@link #build()} validates. The settings whose default
     * depends on others ({@code minLearningRate}, {@code warmupSteps}, {@code logEvery}) take it
     * from them at {@code build()} unless set.
     */
    public static final class Builder {
        private int steps;
        private int batchSize = 8;
        private int accumulationSteps = 1;
        private float learningRate = 1e-3f;
        private Float minLearningRate;
        private Integer warmupSteps;
        private float weightDecay = 0.1f;
        private float maxGradNorm = 1f;
        private long seed;
        private Integer logEvery;
        private int validateEvery;
        private int validationBatches;
        private int checkpointEvery;

        Builder() {}

        /**
         * The number of optimizer updates to reach (required).
         *
         * @param value the updates (>= 1)
         * @return this builder
         */
        public Builder steps(int value) {
            steps = value;
            return this;
        }

        /**
         * Sequences per micro-batch (default 8).
         *
         * @param value the batch size (>= 1)
         * @return this builder
         */
        public Builder batchSize(int value) {
            batchSize = value;
            return this;
        }

        /**
         * Micro-batches per update (default 1: no accumulation).
         *
         * @param value the micro-batches (>= 1)
         * @return this builder
         */
        public Builder accumulationSteps(int value) {
            accumulationSteps = value;
            return this;
        }

        /**
         * The peak learning rate (default 1e-3).
         *
         * @param value the learning rate (> 0)
         * @return this builder
         */
        public Builder learningRate(float value) {
            learningRate = value;
            return this;
        }

        /**
         * The learning rate at the end of the cosine decay (default: a tenth of the peak).
         *
         * @param value the final learning rate, in {@code [0, learningRate]}
         * @return this builder
         */
        public Builder minLearningRate(float value) {
            minLearningRate = value;
            return this;
        }

        /**
         * Updates of linear warm-up from 0 (default: a tenth of the steps, at least 1).
         *
         * @param value the warm-up updates (>= 0)
         * @return this builder
         */
        public Builder warmupSteps(int value) {
            warmupSteps = value;
            return this;
        }

        /**
         * The decoupled weight decay of weight matrices (default 0.1).
         *
         * @param value the weight decay (>= 0)
         * @return this builder
         */
        public Builder weightDecay(float value) {
            weightDecay = value;
            return this;
        }

        /**
         * The global gradient norm clip (default 1; 0 is off).
         *
         * @param value the largest gradient norm (>= 0)
         * @return this builder
         */
        public Builder maxGradNorm(float value) {
            maxGradNorm = value;
            return this;
        }

        /**
         * The seed of the initialization and of the data order (default 0).
         *
         * @param value the seed
         * @return this builder
         */
        public Builder seed(long value) {
            seed = value;
            return this;
        }

        /**
         * Updates between rows of the metrics log (default: 1% of the steps, at least 1, at most 10).
         *
         * @param value the interval (>= 1)
         * @return this builder
         */
        public Builder logEvery(int value) {
            logEvery = value;
            return this;
        }

        /**
         * Updates between validations (default 0: only at the end).
         *
         * @param value the interval (>= 0)
         * @return this builder
         */
        public Builder validateEvery(int value) {
            validateEvery = value;
            return this;
        }

        /**
         * Batches of the validation set per validation (default 0: all).
         *
         * @param value the batches (>= 0)
         * @return this builder
         */
        public Builder validationBatches(int value) {
            validationBatches = value;
            return this;
        }

        /**
         * Updates between checkpoints (default 0: only at the end).
         *
         * @param value the interval (>= 0)
         * @return this builder
         */
        public Builder checkpointEvery(int value) {
            checkpointEvery = value;
            return this;
        }

        /**
         * Builds the settings.
         *
         * @return the validated settings
         * @throws IllegalArgumentException naming the first bad setting and its value
         */
        public TrainingSettings build() {
            if (steps < 1) {
                throw new IllegalArgumentException("steps must be >= 1, got " + steps
                        + (steps == 0 ? " (it has no default: set it with steps(n))" : ""));
            }
            return new TrainingSettings(steps, batchSize, accumulationSteps, learningRate,
                    minLearningRate != null ? minLearningRate : learningRate / 10,
                    warmupSteps != null ? warmupSteps : Math.max(1, steps / 10), weightDecay, maxGradNorm, seed,
                    logEvery != null ? logEvery : Math.max(1, Math.min(10, steps / 100)), validateEvery,
                    validationBatches, checkpointEvery);
        }
    }
}
