package ai.djl.xlstm.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.tracker.Tracker;
import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.io.ParameterNames;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** CI-sized checks of the training pipeline. */
class TrainingTest {

    private static final int VOCAB = 16;

    /** A repetitive corpus: a few fixed phrases in random order. */
    private static long[] repetitiveCorpus(int length, long seed) {
        long[][] phrases = {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10}, {11, 12, 13, 14, 15, 0}, {3, 1, 4, 1, 5, 9, 2, 6}};
        Random random = new Random(seed);
        long[] out = new long[length];
        int i = 0;
        while (i < length) {
            for (long t : phrases[random.nextInt(phrases.length)]) {
                if (i < length) {
                    out[i++] = t;
                }
            }
        }
        return out;
    }

    private static TokenWindowDataset windows(long[] tokens, int len) {
        return TokenWindowDataset.builder().setTokens(tokens).setSequenceLength(len).setSampling(4, false).build();
    }

    private static TrainingSettings settings(int steps) {
        return new TrainingSettings(steps, 4, 1, 1e-2f, 1e-3f, 2, 0.1f, 1f, 42, 1, 0, 2, 0);
    }

    @Test
    void lossFallsByHalfOnRepetitiveCorpus() throws Exception {
        XLstmConfig config = TestModels.neurips(2, List.of(1), VOCAB);
        try (TrainingSession session = TrainingSession.fresh(config, settings(60), null, null)) {
            TokenWindowDataset train = windows(repetitiveCorpus(4000, 1), 32);
            TokenWindowDataset val = windows(repetitiveCorpus(600, 2), 32);
            double before = session.validate(val)[0];
            TrainingSession.Summary s = session.train(train, val, false);
            System.out.printf("[train] validation loss %.4f -> %.4f after %d steps (%.0f tokens/s)%n",
                    before, s.lastValLoss(), s.steps(), s.tokensPerSecond());
            assertTrue(s.lastValLoss() < before / 2, "loss " + before + " -> " + s.lastValLoss());
        }
    }

    @Test
    void resumeReproducesAnUninterruptedRun(@TempDir Path tmp) throws Exception {
        XLstmConfig config = TestModels.neurips(2, List.of(0), VOCAB);
        TokenWindowDataset train = windows(repetitiveCorpus(3000, 3), 16);
        TrainingSettings s = settings(12);
        List<MetricsLog.Row> straight;
        try (TrainingSession session = TrainingSession.fresh(config, s, tmp.resolve("straight"), null)) {
            session.train(train, null, false);
            straight = session.getMetrics().rows();
        }
        Path dir = tmp.resolve("interrupted");
        try (TrainingSession session = TrainingSession.fresh(config, s, dir, null)) {
            session.train(train, null, false, 5); // stops and checkpoints at step 5
        }
        List<MetricsLog.Row> resumed;
        try (TrainingSession session = TrainingSession.resume(dir, null, null)) {
            assertEquals(5, session.getStep());
            session.train(train, null, false);
            resumed = session.getMetrics().rows();
        }
        assertEquals(straight.size(), resumed.size());
        for (int i = 0; i < straight.size(); i++) {
            double a = straight.get(i).trainLoss();
            double b = resumed.get(i).trainLoss();
            System.out.printf("[resume] step %d: %.7f vs %.7f%n", straight.get(i).step(), a, b);
            assertEquals(a, b, 1e-5, "loss at step " + straight.get(i).step());
        }
    }

    @Test
    void lossIsCorrectWhenBatchDiffersFromLength() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(3);
            int b = 2;
            int t = 5;
            int v = 7;
            NDArray logits = manager.randomNormal(new Shape(b, t, v));
            long[] labels = {1, 6, 0, CausalLmLoss.IGNORE_INDEX, 3, 2, 2, CausalLmLoss.IGNORE_INDEX, 5, 4};
            float[] x = logits.toFloatArray();
            double sum = 0;
            int count = 0;
            for (int i = 0; i < b * t; i++) {
                if (labels[i] == CausalLmLoss.IGNORE_INDEX) {
                    continue;
                }
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < v; j++) {
                    max = Math.max(max, x[i * v + j]);
                }
                double z = 0;
                for (int j = 0; j < v; j++) {
                    z += Math.exp(x[i * v + j] - max);
                }
                sum += -(x[i * v + (int) labels[i]] - max - Math.log(z));
                count++;
            }
            float loss = new CausalLmLoss()
                    .evaluate(new NDList(manager.create(labels).reshape(b, t)), new NDList(logits))
                    .getFloat();
            assertEquals(sum / count, loss, 1e-5);
            float ppl = new Perplexity()
                    .evaluate(new NDList(manager.create(labels).reshape(b, t)), new NDList(logits))
                    .getFloat();
            assertEquals(Math.exp(sum / count), ppl, 1e-3);
            NDArray badLabels = manager.create(new long[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}).reshape(b, t);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new CausalLmLoss().evaluate(new NDList(badLabels), new NDList(logits)));
            assertTrue(e.getMessage().contains("label 9"), e.getMessage());
        }
    }

    @Test
    void globalNormClippingScalesAllGradientsTogether() {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(TestModels.neurips(1, List.of(), VOCAB), manager, 2, 0.5f);
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray tokens = TestModels.randomTokens(manager, 2, 6, VOCAB);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(model.logits(ps, tokens, true).square().sum()); // large gradients
            }
            Map<String, Parameter> params = ParameterNames.of(model);
            double sumSquares = 0;
            for (Parameter p : params.values()) {
                sumSquares += p.getArray().getGradient().square().sum().getFloat();
            }
            double norm = Math.sqrt(sumSquares);
            float maxNorm = 0.5f;
            assertTrue(norm > maxNorm, "test needs gradients above the clip, norm " + norm);
            String name = "xlstm_block_stack.blocks.0.xlstm.proj_up.weight";
            float[] grad = params.get(name).getArray().getGradient().toFloatArray();

            GroupedAdamW opt = GroupedAdamW.builder().setBlock(model).optMaxGradNorm(maxNorm)
                    .optLearningRateTracker(Tracker.fixed(1e-3f)).build();
            for (Parameter p : params.values()) {
                NDArray g = p.getArray().getGradient().duplicate();
                opt.update(p.getId(), p.getArray(), g);
            }
            System.out.printf("[clip] global norm %.4f, scale %.6f%n", opt.getLastGradNorm(), opt.getLastClipScale());
            assertEquals(norm, opt.getLastGradNorm(), 1e-3 * norm);
            assertEquals(maxNorm / norm, opt.getLastClipScale(), 1e-4 * maxNorm / norm);
            // Adam's first moment after one update is (1 - beta1) * clipped gradient.
            float[] m = opt.firstMoment(name).toFloatArray();
            for (int i = 0; i < m.length; i += Math.max(1, m.length / 17)) {
                assertEquals(0.1 * grad[i] * maxNorm / norm, m[i], 1e-6 + 1e-4 * Math.abs(m[i]), "m[" + i + "]");
            }
            // Gradient buffers were reset for the next step.
            assertEquals(0f, params.get(name).getArray().getGradient().abs().sum().getFloat());
            assertTrue(opt.isDecayed(name));
            assertTrue(!opt.isDecayed("token_embedding.weight") && !opt.isDecayed("xlstm_block_stack.blocks.0.xlstm_norm.weight"));
        }
    }

    @Test
    void stepWithNonFiniteGradientsIsSkipped() {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(TestModels.neurips(1, List.of(), VOCAB), manager, 2, 0.5f);
            ParameterStore ps = new ParameterStore(manager, false);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(model.logits(ps, TestModels.randomTokens(manager, 2, 6, VOCAB), true).sum());
            }
            Map<String, Parameter> params = ParameterNames.of(model);
            NDArray grad = params.get("lm_head.weight").getArray().getGradient();
            grad.set(new ai.djl.ndarray.index.NDIndex("0, 0"), Float.POSITIVE_INFINITY);
            float[] before = params.get("token_embedding.weight").getArray().toFloatArray();
            GroupedAdamW opt = GroupedAdamW.builder().setBlock(model).build();
            for (Parameter p : params.values()) {
                opt.update(p.getId(), p.getArray(), p.getArray().getGradient().duplicate());
            }
            assertEquals(1, opt.getSkippedSteps());
            assertArrayEquals(before, params.get("token_embedding.weight").getArray().toFloatArray(), "weights unchanged");
            assertEquals(0f, params.get("lm_head.weight").getArray().getGradient().abs().sum().getFloat(), "gradients dropped");
        }
    }

    @Test
    void accumulatedMicroBatchesEqualOneLargeBatch() {
        float[][] after = new float[2][];
        float[][] moments = new float[2][];
        String name = "xlstm_block_stack.blocks.0.xlstm.proj_up.weight";
        for (int mode = 0; mode < 2; mode++) {
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = TestModels.randomModel(TestModels.neurips(1, List.of(), VOCAB), manager, 8, 0.3f);
                Engine.getInstance().setRandomSeed(9);
                NDArray tokens = TestModels.randomTokens(manager, 4, 7, VOCAB);
                NDArray labels = TestModels.randomTokens(manager, 4, 7, VOCAB);
                ParameterStore ps = new ParameterStore(manager, false);
                Map<String, Parameter> params = ParameterNames.of(model);
                GroupedAdamW opt = GroupedAdamW.builder().setBlock(model).optMaxGradNorm(0)
                        .optAccumulationSteps(mode == 0 ? 1 : 2).build();
                int micro = mode == 0 ? 1 : 2;
                for (int k = 0; k < micro; k++) {
                    long from = mode == 0 ? 0 : 2L * k;
                    long to = mode == 0 ? 4 : from + 2;
                    ai.djl.ndarray.index.NDIndex rows = new ai.djl.ndarray.index.NDIndex().addSliceDim(from, to);
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray loss = new CausalLmLoss().evaluate(new NDList(labels.get(rows)),
                                new NDList(model.logits(ps, tokens.get(rows), true)));
                        gc.backward(loss);
                    }
                    for (Parameter p : params.values()) {
                        opt.update(p.getId(), p.getArray(), p.getArray().getGradient().duplicate());
                    }
                }
                assertEquals(1, opt.getAppliedSteps());
                after[mode] = params.get(name).getArray().toFloatArray();
                moments[mode] = opt.firstMoment(name).toFloatArray(); // scales with the gradient
            }
        }
        assertArrayEquals(moments[0], moments[1], 1e-5f, "mean gradient of 2 micro-batches of 2 vs one batch of 4");
        assertArrayEquals(after[0], after[1], 1e-5f, "weights after the update");
    }

    @Test
    void listenersSeeEveryUpdateAndDjlEventsAndCanStopTraining() throws Exception {
        XLstmConfig config = TestModels.neurips(2, List.of(1), VOCAB);
        TokenWindowDataset train = windows(repetitiveCorpus(2000, 4), 16);
        TrainingSettings s = new TrainingSettings(6, 2, 2, 1e-3f, 1e-4f, 1, 0.1f, 1f, 3, 1, 0, 0, 0); // 2 micro-batches per update
        List<Integer> updates = new java.util.ArrayList<>();
        int[] batches = {0};
        try (TrainingSession session = TrainingSession.fresh(config, s, null, null)) {
            session.addListener(new UpdateListener() {
                @Override
                public void onUpdate(TrainingSession ts, Update u) {
                    updates.add(u.step());
                    assertTrue(Double.isFinite(u.loss()) && u.learningRate() >= 0 && u.gradNorm() > 0, "an update's figures");
                }

                @Override
                public void onTrainingBatch(ai.djl.training.Trainer trainer, BatchData data) {
                    batches[0]++;
                }
            });
            session.train(train, null, false);
            org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> session.addListener(new UpdateListener() {
                        @Override
                        public void onUpdate(TrainingSession ts, Update u) {}
                    }), "listeners are fixed once training began");
        }
        assertEquals(List.of(1, 2, 3, 4, 5, 6), updates);
        assertEquals(12, batches[0], "DJL's per-batch event, two micro-batches per update");

        try (TrainingSession session = TrainingSession.fresh(config, s, null, null)) {
            session.addListener((UpdateListener) (ts, u) -> {
                if (u.step() == 3) {
                    throw new java.io.IOException("stop at 3");
                }
            });
            java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                    () -> session.train(train, null, false));
            assertEquals("stop at 3", e.getMessage());
            assertEquals(3, session.getStep());
        }
    }

    /** A run of {@code steps} updates written to {@code dir}. */
    private static void trainRun(Path dir, int steps) throws Exception {
        try (TrainingSession session = TrainingSession.fresh(TestModels.neurips(1, List.of(), VOCAB), settings(steps), dir, null)) {
            session.train(windows(repetitiveCorpus(400, 5), 8), null, false);
        }
    }

    @Test
    void aRunHasOneWriterAtATime(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run");
        XLstmConfig config = TestModels.neurips(1, List.of(), VOCAB);
        try (TrainingSession first = TrainingSession.fresh(config, settings(2), dir, null)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> TrainingSession.fresh(config, settings(2), dir, null));
            assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("in use by this process"),
                    e.getMessage());
            first.train(windows(repetitiveCorpus(400, 5), 8), null, false);
        }
        try (TrainingSession resumed = TrainingSession.resume(dir, 3, null)) {
            assertThrows(IllegalStateException.class, () -> TrainingSession.resume(dir, 3, null), "two resumes");
            assertThrows(IllegalStateException.class, () -> TrainingSession.resume(dir.resolve("checkpoint-000002"), 3, null),
                    "a resume through a checkpoint folder claims its run");
            assertThrows(IllegalStateException.class,
                    () -> TrainingSession.fromPretrained(dir, settings(2), dir, null), "a fine-tune into the run");
            assertEquals(2, resumed.getStep());
        }
        try (TrainingSession again = TrainingSession.resume(dir, 3, null)) {
            assertEquals(2, again.getStep(), "released by close");
        }
    }

    @Test
    void staleTemporariesAreRemovedWhenARunIsClaimed(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run");
        trainRun(dir, 2);
        // what a kill -9 leaves behind in the middle of a checkpoint or a publish
        List<Path> stale = List.of(dir.resolve(".latest.0b6b8e43-3b7c-4b7e-9c53-6f1a6b1e2c3d.tmp"),
                dir.resolve(".metrics.csv.1c6b8e43-3b7c-4b7e-9c53-6f1a6b1e2c3d.tmp"), dir.resolve(".checkpoint-000003.tmp"));
        java.nio.file.Files.writeString(stale.get(0), "checkpoint-0000");
        java.nio.file.Files.writeString(stale.get(1), "step,");
        java.nio.file.Files.createDirectories(stale.get(2));
        java.nio.file.Files.writeString(stale.get(2).resolve("config.json"), "{");
        Path mine = java.nio.file.Files.writeString(dir.resolve("notes.tmp"), "the user's");
        try (TrainingSession session = TrainingSession.resume(dir, 3, null)) {
            for (Path p : stale) {
                assertTrue(!java.nio.file.Files.exists(p), p + " removed before training");
            }
            assertTrue(java.nio.file.Files.exists(mine), "a file not named as our temporaries stays");
            assertEquals(2, session.getStep());
        }
    }

    @Test
    void resumeRefusesAStepCountNotPastTheRun(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run");
        trainRun(dir, 2);
        assertEquals(2, TrainingSession.stepOf(dir));
        for (int steps : new int[] {1, 2}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> TrainingSession.resume(dir, steps, null));
            assertTrue(e.getMessage().contains("already at step 2; a total of " + steps + " steps is not past it"),
                    e.getMessage());
        }
        try (TrainingSession session = TrainingSession.resume(dir, 3, null)) {
            assertEquals(3, session.train(windows(repetitiveCorpus(400, 5), 8), null, false).steps(),
                    "the refusals released the run");
        }
    }

    /**
     * A stop request arriving inside step 3 (after a micro-batch's backward pass): {@code
     * requestStop} ends with a checkpoint of step 3; {@code requestStopWithoutCheckpoint} (also
     * after {@code requestStop}, as on a second signal) ends at the next micro-batch or step
     * boundary and leaves step 2's checkpoint the newest, with no partial update counted.
     */
    @Test
    void aStopWithoutCheckpointEndsAtTheNextBoundaryAndWritesNothing(@TempDir Path tmp) throws Exception {
        XLstmConfig config = TestModels.neurips(1, List.of(), VOCAB);
        TokenWindowDataset train = windows(repetitiveCorpus(2000, 5), 8);
        for (int accumulate : new int[] {1, 2}) {
            for (boolean withCheckpoint : new boolean[] {true, false}) {
                String label = (withCheckpoint ? "requestStop" : "requestStop + requestStopWithoutCheckpoint")
                        + ", " + accumulate + " micro-batch(es) per update";
                TrainingSettings s = new TrainingSettings(10, 2, accumulate, 1e-3f, 1e-4f, 1, 0.1f, 1f, 3, 1, 0, 0, 1);
                Path dir = tmp.resolve(accumulate + "-" + withCheckpoint);
                int[] batches = {0};
                List<Integer> updates = new java.util.ArrayList<>();
                TrainingSession.Summary summary;
                try (TrainingSession session = TrainingSession.fresh(config, s, dir, null)) {
                    session.addListener(new UpdateListener() {
                        @Override
                        public void onUpdate(TrainingSession ts, Update u) {
                            updates.add(u.step());
                        }

                        @Override
                        public void onTrainingBatch(ai.djl.training.Trainer trainer, BatchData data) {
                            if (++batches[0] == 2 * accumulate + 1) { // the first micro-batch of step 3
                                session.requestStop();
                                if (!withCheckpoint) {
                                    session.requestStopWithoutCheckpoint();
                                }
                            }
                        }
                    });
                    summary = session.train(train, null, false);
                    assertEquals(summary.steps(), session.getStep(), label);
                }
                int expected = withCheckpoint || accumulate == 1 ? 3 : 2; // a partial update is not counted
                assertEquals(expected, summary.steps(), label + ": steps");
                assertEquals(withCheckpoint ? TrainingSession.Ending.STOPPED : TrainingSession.Ending.STOPPED_WITHOUT_CHECKPOINT,
                        summary.ending(), label);
                assertTrue(summary.stopped(), label);
                assertEquals(withCheckpoint ? 2 * accumulate + accumulate : 2 * accumulate + 1, batches[0],
                        label + ": micro-batches trained");
                assertEquals(withCheckpoint ? List.of(1, 2, 3) : List.of(1, 2), updates, label + ": updates reported");
                String newest = ai.djl.xlstm.io.UpstreamCheckpoint.resolveFolder(dir).getFileName().toString();
                assertEquals(withCheckpoint ? "checkpoint-000003" : "checkpoint-000002", newest, label);
                assertTrue(withCheckpoint || !java.nio.file.Files.exists(dir.resolve("checkpoint-000003")),
                        label + ": no checkpoint of the stopped step");
                try (TrainingSession resumed = TrainingSession.resume(dir, null, null)) {
                    assertEquals(withCheckpoint ? 3 : 2, resumed.getStep(), label + ": the run resumes from its newest checkpoint");
                }
            }
        }
    }

    /** Counts each DJL event a listener gets. */
    private static final class EventCounter implements ai.djl.training.listener.TrainingListener {
        final Map<String, Integer> counts = new java.util.TreeMap<>();

        private void count(String event) {
            counts.merge(event, 1, Integer::sum);
        }

        @Override
        public void onEpoch(ai.djl.training.Trainer trainer) {
            count("onEpoch");
        }

        @Override
        public void onTrainingBatch(ai.djl.training.Trainer trainer, BatchData batchData) {
            count("onTrainingBatch");
        }

        @Override
        public void onValidationBatch(ai.djl.training.Trainer trainer, BatchData batchData) {
            count("onValidationBatch");
        }

        @Override
        public void onTrainingBegin(ai.djl.training.Trainer trainer) {
            count("onTrainingBegin");
        }

        @Override
        public void onTrainingEnd(ai.djl.training.Trainer trainer) {
            count("onTrainingEnd");
        }
    }

    /**
     * DJL's listeners get every event: an epoch is the updates a validation ends; DJL's own
     * evaluator listener reports the loss and perplexity the session returns, and the validation
     * loss is the mean NLL of the validation tokens computed here by hand.
     */
    @Test
    void djlListenersGetEveryEventAndTheEvaluatorsFigures() throws Exception {
        XLstmConfig config = TestModels.neurips(1, List.of(), VOCAB);
        TokenWindowDataset train = windows(repetitiveCorpus(2000, 6), 8);
        TokenWindowDataset val = windows(repetitiveCorpus(400, 7), 8);
        TrainingSettings s = TrainingSettings.builder().steps(6).batchSize(2).accumulationSteps(2).learningRate(1e-2f)
                .validateEvery(3).validationBatches(2).seed(5).build();
        EventCounter events = new EventCounter();
        ai.djl.training.listener.TrainingListener[] logging = ai.djl.training.listener.TrainingListener.Defaults.logging();
        ai.djl.training.listener.EvaluatorTrainingListener evaluations = java.util.Arrays.stream(logging)
                .filter(l -> l instanceof ai.djl.training.listener.EvaluatorTrainingListener)
                .map(l -> (ai.djl.training.listener.EvaluatorTrainingListener) l).findFirst().orElseThrow();
        List<double[]> validations = new java.util.ArrayList<>();
        TrainingSession.Summary summary;
        try (TrainingSession session = TrainingSession.fresh(config, s, null, null)) {
            session.addListener(events);
            for (ai.djl.training.listener.TrainingListener l : logging) {
                session.addListener(l);
            }
            session.addListener((UpdateListener) (ts, u) -> {
                if (!Double.isNaN(u.validationLoss())) {
                    validations.add(new double[] {u.validationLoss(), u.validationPerplexity()});
                }
            });
            summary = session.train(train, val, false);
            assertEquals(Map.of("onTrainingBegin", 1, "onTrainingBatch", 12, "onValidationBatch", 4, "onEpoch", 2),
                    events.counts, "6 updates of 2 micro-batches, validated after 3 and 6 on 2 batches");
            Map<String, Float> latest = evaluations.getLatestEvaluations();
            System.out.printf("[listeners] %s; DJL's evaluator listener: %s%n", events.counts, latest);
            assertEquals(2, validations.size());
            assertEquals(summary.lastValLoss(), validations.get(1)[0]);
            assertEquals(summary.lastValPerplexity(), latest.get("validate_Perplexity"), 1e-4 * summary.lastValPerplexity());
            assertEquals(summary.lastValLoss(), latest.get("validate_loss"), 1e-5, "equal batches: mean of batch means");
            assertTrue(Float.isFinite(latest.get("train_loss")) && Float.isFinite(latest.get("train_Perplexity")), latest.toString());

            // the validation loss by hand: the mean NLL over the tokens of the first 2 batches of 2
            XLstmLanguageModel block = (XLstmLanguageModel) session.getBlock();
            double nll = 0;
            double count = 0;
            try (NDManager m = session.getModel().getNDManager().newSubManager()) {
                for (long i = 0; i < 4; i++) {
                    ai.djl.training.dataset.Record r = val.get(m, i);
                    NDArray logits = block.logits(new ParameterStore(m, false), r.getData().get(0).expandDims(0), false);
                    NDArray[] sums = CausalLmLoss.negativeLogLikelihood(r.getLabels().get(0).expandDims(0), logits);
                    nll += sums[0].getFloat();
                    count += sums[1].getFloat();
                }
            }
            assertEquals(nll / count, summary.lastValLoss(), 1e-5);
            assertEquals(nll / count, session.validate(val)[0], 1e-5);
            assertEquals(6, events.counts.get("onValidationBatch"), "validate() reports its batches too");
            assertEquals(null, events.counts.get("onTrainingEnd"), "the trainer ends with the session");
        }
        assertEquals(1, events.counts.get("onTrainingEnd"));
    }

    @Test
    void aSessionTrainsTheCallersModelAndLeavesItOpen() throws Exception {
        TokenWindowDataset train = windows(repetitiveCorpus(800, 8), 8);
        TrainingSettings s = TrainingSettings.builder().steps(2).batchSize(2).learningRate(1e-2f).build();
        try (ai.djl.Model model = ai.djl.Model.newInstance("mine")) {
            XLstmLanguageModel block = TestModels.randomModel(TestModels.neurips(1, List.of(), VOCAB), model.getNDManager(), 4, 0.2f);
            model.setBlock(block);
            NDArray tokens = model.getNDManager().create(new long[][] {{1, 2, 3, 4}});
            float[] before = block.logits(new ParameterStore(model.getNDManager(), false), tokens, false).toFloatArray();
            try (TrainingSession session = TrainingSession.fromPretrained(model, s, null)) {
                assertTrue(session.getModel() == model && session.getBlock() == block);
                assertEquals(2, session.train(train, null, false).steps());
            }
            float[] after = block.logits(new ParameterStore(model.getNDManager(), false), tokens, false).toFloatArray();
            assertTrue(!java.util.Arrays.equals(before, after), "the model was trained in place and is still open");
        }
        try (ai.djl.Model empty = ai.djl.Model.newInstance("empty")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> TrainingSession.fromPretrained(empty, s, null));
            assertTrue(e.getMessage().contains("no block"), e.getMessage());
        }
    }
}
