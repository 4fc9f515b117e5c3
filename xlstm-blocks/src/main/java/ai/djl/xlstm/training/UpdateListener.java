package ai.djl.xlstm.training;

import ai.djl.training.Trainer;
import ai.djl.training.listener.TrainingListener;

import java.io.IOException;

/**
 * A DJL {@link TrainingListener} that a {@link TrainingSession} also tells of every optimizer
 * update (after the weights changed, once per update whatever the gradient accumulation). The
 * session's own checkpoints, metrics and divergence guard are such listeners; add yours with
 * {@link TrainingSession#addListener}. DJL's per-batch events have no-op defaults here.
 */
public interface UpdateListener extends TrainingListener {

    /**
     * What one update did.
     *
     * @param step the updates applied so far
     * @param loss the update's mean training loss
     * @param learningRate the learning rate it used
     * @param gradNorm the global gradient norm before clipping
     * @param validationLoss the validation loss after it, NaN when not validated at this step
     * @param validationPerplexity {@code exp(validationLoss)}, or NaN
     * @param tokensPerSecond training throughput of this call to {@code train} so far
     * @param elapsedSeconds training time of the whole run so far
     * @param last whether this is the last update of this call to {@code train}
     * @param stopping whether training stops after it because {@link TrainingSession#requestStop}
     *     was called
     */
    record Update(int step, double loss, float learningRate, double gradNorm, double validationLoss,
            double validationPerplexity, double tokensPerSecond, double elapsedSeconds, boolean last,
            boolean stopping) {}

    /**
     * Called after every update. An exception stops training.
     *
     * @param session the training session
     * @param update the update's figures
     * @throws IOException if the listener's output cannot be written
     */
    void onUpdate(TrainingSession session, Update update) throws IOException;

    @Override
    default void onEpoch(Trainer trainer) {}

    @Override
    default void onTrainingBatch(Trainer trainer, BatchData batchData) {}

    @Override
    default void onValidationBatch(Trainer trainer, BatchData batchData) {}

    @Override
    default void onTrainingBegin(Trainer trainer) {}

    @Override
    default void onTrainingEnd(Trainer trainer) {}
}
