package ai.djl.xlstm.training;

/**
 * The hyper-parameters of a training run.
 *
 * @param steps the number of optimizer updates to reach
 * @param batchSize sequences per micro-batch
 * @param accumulationSteps micro-batches per update
 * @param learningRate the peak learning rate
 * @param minLearningRate the learning rate at the end of the cosine decay
 * @param warmupSteps updates of linear warm-up from 0
 * @param weightDecay the decoupled weight decay of weight matrices
 * @param maxGradNorm the global gradient norm clip (0: none)
 * @param seed the seed of the initialization and of the data order
 * @param logEvery updates between logged rows
 * @param validateEvery updates between validations (0: only at the end)
 * @param validationBatches batches of the validation set per validation (0: all)
 * @param checkpointEvery updates between checkpoints (0: only at the end)
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

    /** Validates the settings. */
    public TrainingSettings {
        require(steps >= 1, "steps must be >= 1, got " + steps);
        require(batchSize >= 1, "batch size must be >= 1, got " + batchSize);
        require(accumulationSteps >= 1, "accumulation steps must be >= 1, got " + accumulationSteps);
        require(learningRate > 0 && Float.isFinite(learningRate), "learning rate must be > 0, got " + learningRate);
        require(minLearningRate >= 0 && minLearningRate <= learningRate,
                "min learning rate must be in [0, learning rate], got " + minLearningRate);
        require(warmupSteps >= 0, "warm-up steps must be >= 0, got " + warmupSteps);
        require(weightDecay >= 0, "weight decay must be >= 0, got " + weightDecay);
        require(maxGradNorm >= 0, "max grad norm must be >= 0, got " + maxGradNorm);
        require(logEvery >= 1, "log interval must be >= 1, got " + logEvery);
        require(validateEvery >= 0 && validationBatches >= 0 && checkpointEvery >= 0,
                "validation and checkpoint intervals must be >= 0");
    }

    /**
     * Defaults as upstream trains small models: AdamW 1e-3 cosine to 1e-4, 10% warm-up, decay 0.1, clip 1.
     *
     * @param steps the number of updates
     * @param batchSize the sequences per batch
     * @param seed the seed of initialization and sampling
     * @return the settings
     */
    public static TrainingSettings defaults(int steps, int batchSize, long seed) {
        return new TrainingSettings(steps, batchSize, 1, 1e-3f, 1e-4f, Math.max(1, steps / 10), 0.1f, 1f,
                seed, Math.max(1, steps / 100), 0, 0, 0);
    }

    /**
     * A copy with another number of steps.
     *
     * @param newSteps the number of updates
     * @return the copy
     */
    public TrainingSettings withSteps(int newSteps) {
        return new TrainingSettings(newSteps, batchSize, accumulationSteps, learningRate, minLearningRate,
                warmupSteps, weightDecay, maxGradNorm, seed, logEvery, validateEvery, validationBatches, checkpointEvery);
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }
}
