package ai.djl.xlstm.examples.bench;

import ai.djl.translate.TranslateException;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.training.TokenWindowDataset;
import ai.djl.xlstm.training.TrainingSession;
import ai.djl.xlstm.training.TrainingSettings;
import ai.djl.xlstm.training.UpdateListener;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.SplittableRandom;

/**
 * The train suite: optimizer updates of a {@link TrainingSession} (as {@code xlstm train} runs
 * them: causal-LM loss, backward pass, gradient clipping, AdamW) on {@code --train-batch} random
 * windows of {@code --train-length} tokens. The session builds its own model of the same config
 * with fresh random weights (the time of a step does not depend on the weights' values).
 */
public final class TrainSuite {

    private TrainSuite() {}

    /**
     * The bytes a training step of the model needs, roughly: weights, gradients and two AdamW
     * moments (16 bytes per parameter), the logits with their log-softmax and gradients (16
     * bytes per logit), and 40 activations of width D per token and block.
     *
     * @param config the model config
     * @param batch B
     * @param length S
     * @return the estimate in bytes
     */
    static long estimateBytes(XLstmConfig config, int batch, int length) {
        long tokens = (long) batch * length;
        return 16 * config.parameterCount() + 16 * tokens * config.vocabSize()
                + 4L * 40 * tokens * config.embeddingDim() * config.numBlocks();
    }

    /**
     * Runs {@code --warmup} untimed and {@code --repeats} timed updates; the time of each is the
     * session's own step time (between consecutive update reports), the tensor count the median
     * per update under a {@link TensorCounter}.
     *
     * @param ctx the model under test
     * @param limits the roofline
     */
    public static void run(BenchContext ctx, Roofline.Limits limits) {
        BenchSettings s = ctx.settings();
        XLstmConfig config = ctx.model().getConfig();
        int batch = s.trainBatch();
        int length = s.trainLength();
        long tokensPerStep = (long) batch * length;
        Measurement.Builder row = ctx.measurement(Suite.TRAIN, "training-session").batch(batch).seqLen(length)
                .tokens(tokensPerStep);
        long estimate = estimateBytes(config, batch, length);
        if (estimate > s.memoryBudgetBytes()) {
            ctx.sink().accept(row.skipped(String.format(java.util.Locale.ROOT,
                    "over budget (estimated %s, memory budget %s)", Machine.gib(estimate),
                    Machine.gib(s.memoryBudgetBytes()))).build());
            return;
        }
        int steps = s.warmup() + s.repeats();
        long[] tokens = new SplittableRandom(s.seed() + 2).longs(2L * batch * length + 1, 0, config.vocabSize()).toArray();
        TokenWindowDataset data = TokenWindowDataset.builder().setTokens(tokens).setSequenceLength(length)
                .setSampling(batch, true).build();
        double[] elapsed = new double[steps + 1];
        long[] counts = new long[steps + 1];
        MemoryProbe probe = MemoryProbe.start();
        TrainingSettings settings = TrainingSettings.builder().steps(steps).batchSize(batch).seed(s.seed()).build();
        try (TrainingSession session = TrainingSession.fresh(config, settings, null, ctx.manager().getDevice());
                TensorCounter counter = TensorCounter.open()) {
            UpdateListener listener = (sess, u) -> {
                elapsed[u.step()] = u.elapsedSeconds();
                counts[u.step()] = counter == null ? 0 : counter.count();
            };
            session.addListener(listener);
            session.train(data, null, false);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (TranslateException e) {
            throw new IllegalStateException("training step failed: " + e.getMessage(), e);
        }
        double[] seconds = new double[s.repeats()];
        double[] ops = new double[s.repeats()];
        for (int i = 0; i < seconds.length; i++) {
            int step = s.warmup() + 1 + i;
            seconds[i] = elapsed[step] - elapsed[step - 1];
            ops[i] = counts[step] - counts[step - 1];
        }
        java.util.Arrays.sort(ops);
        ctx.sink().accept(row.seconds(Stats.of(seconds)).memory(probe)
                .opsPerStep(TensorCounter.available() ? ops[ops.length / 2] : null)
                .roofline(limits, ctx.cost().trainWeightBytes(), ctx.cost().trainFlops(batch, length))
                .note("fresh random weights of the same config; AdamW, gradient clipping at 1")
                .build());
    }
}
