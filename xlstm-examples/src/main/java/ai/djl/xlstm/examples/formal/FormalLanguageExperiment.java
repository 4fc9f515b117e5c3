package ai.djl.xlstm.examples.formal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.translate.TranslateException;
import ai.djl.util.Pair;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.training.TrainingSession;
import ai.djl.xlstm.training.TrainingSettings;
import ai.djl.xlstm.training.UpdateListener;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * One run of the xLSTM paper's formal-language experiment (Fig. 4, after Delétang et al. 2023):
 * train a small model on sequences of length 1 to 40, then measure accuracy on lengths 41 to 256
 * (length generalization).
 *
 * <p>Architectures of about the same size (~110k parameters, 64-dimensional, 2 blocks, 1 head):
 * xLSTM[0:1] (two sLSTM blocks), xLSTM[1:0] (two mLSTM blocks; up-projection 4 so that an mLSTM
 * block has about the parameters of an sLSTM block with its feed-forward), xLSTM[1:1] (mLSTM then
 * sLSTM), and DJL's built-in two-layer LSTM (state 84).
 */
public final class FormalLanguageExperiment {

    /** The compared architectures. */
    public enum Architecture {
        /** sLSTM blocks only. */
        SLSTM("0:1"),
        /** mLSTM blocks only. */
        MLSTM("1:0"),
        /** One mLSTM and one sLSTM block. */
        MIXED("1:1"),
        /** DJL's LSTM. */
        LSTM("lstm");

        private final String cliName;

        Architecture(String cliName) {
            this.cliName = cliName;
        }

        /** The command-line name: 0:1, 1:0, 1:1 or lstm. */
        public String cliName() {
            return cliName;
        }

        /** Parses a command-line name. */
        public static Architecture parse(String name) {
            for (Architecture a : values()) {
                if (a.cliName.equalsIgnoreCase(name)) {
                    return a;
                }
            }
            throw new IllegalArgumentException("unknown architecture '" + name + "'; valid: 0:1, 1:0, 1:1, lstm");
        }
    }

    /**
     * The settings of one run.
     *
     * @param task the task
     * @param architecture the model
     * @param steps optimizer updates
     * @param seed the seed of data, initialization and order
     * @param supervision dense (every prefix labelled) or last position only
     * @param batchSize sequences per batch
     * @param learningRate the peak learning rate
     * @param testPerBucket test sequences per test length bucket
     */
    public record Options(FormalTask task, Architecture architecture, int steps, long seed,
            Supervision supervision, int batchSize, float learningRate, int testPerBucket) {

        /** Validates the options. */
        public Options {
            if (task == null || architecture == null || supervision == null) {
                throw new IllegalArgumentException("task, architecture and supervision are required");
            }
            if (steps < 1 || batchSize < 1 || testPerBucket < 1 || !(learningRate > 0)) {
                throw new IllegalArgumentException("steps, batch size and test size must be >= 1 and the learning rate > 0");
            }
        }

        /** The defaults of the command line: 400 steps, batch 64, learning rate 3e-3, dense labels. */
        public static Options defaults(FormalTask task, Architecture architecture) {
            return new Options(task, architecture, 400, 0, Supervision.DENSE, 64, 3e-3f, 128);
        }
    }

    /**
     * The outcome of a run.
     *
     * @param options the settings
     * @param parameters the number of model parameters
     * @param trainAccuracy accuracy on fresh sequences of the training lengths 1-40
     * @param test accuracy on lengths 41-256, overall and per bucket
     * @param finalLoss the training loss at the end
     * @param seconds wall time of training and evaluation
     */
    public record Result(Options options, long parameters, double trainAccuracy,
            FormalLanguageEval.Report test, double finalLoss, double seconds) {}

    /** The test length buckets beyond the training range. */
    public static final List<FormalLanguageEval.LengthBucket> TEST_BUCKETS = List.of(
            new FormalLanguageEval.LengthBucket(41, 64),
            new FormalLanguageEval.LengthBucket(65, 128),
            new FormalLanguageEval.LengthBucket(129, 256));

    private FormalLanguageExperiment() {}

    /** Trains and evaluates one model. */
    public static Result run(Options o, boolean progressBar) throws IOException, TranslateException {
        return run(o, progressBar, () -> false);
    }

    /**
     * Trains and evaluates one model; {@code stop} is asked after every update (from the training
     * thread, at a step boundary, where no native code runs).
     *
     * @throws CancellationException when {@code stop} said true: training ended at that step
     *     boundary and nothing was evaluated
     */
    public static Result run(Options o, boolean progressBar, BooleanSupplier stop) throws IOException, TranslateException {
        long start = System.nanoTime();
        FormalTask task = o.task();
        FormalLanguageDataset train = FormalLanguageDataset.builder()
                .setTask(task).optSupervision(o.supervision()).optLengthRange(1, 40)
                .setNumExamples(o.batchSize() * 100).optSeed(o.seed())
                .setSampling(o.batchSize(), true).build();
        TrainingSettings settings = TrainingSettings.builder().steps(o.steps()).batchSize(o.batchSize())
                .learningRate(o.learningRate()).seed(o.seed()).logEvery(Math.max(1, o.steps() / 20)).build();
        try (TrainingSession session = TrainingSession.fresh(model(task, o.architecture()), settings, null, null)) {
            session.addListener((UpdateListener) (s, u) -> {
                if (stop.getAsBoolean()) {
                    throw new CancellationException("stopped after step " + u.step() + " of " + o.steps());
                }
            });
            TrainingSession.Summary summary = session.train(train, null, progressBar);
            Block block = session.getBlock();
            long params = 0;
            for (Pair<String, Parameter> p : block.getParameters()) {
                params += p.getValue().getArray().size();
            }
            NDManager manager = session.getModel().getNDManager();
            double trainAccuracy = evaluate(block, manager, task, o.supervision(), 1, 40, o.testPerBucket(),
                    o.seed() + 1, FormalLanguageEval.PAPER_BUCKETS).overall().value();
            List<FormalExample> all = new ArrayList<>();
            List<long[]> predictions = new ArrayList<>();
            for (FormalLanguageEval.LengthBucket bucket : TEST_BUCKETS) {
                FormalLanguageDataset test = dataset(task, o.supervision(), bucket.minLength(), bucket.maxLength(),
                        o.testPerBucket(), o.seed() + 2 + bucket.maxLength());
                predictions.addAll(predict(block, manager, test));
                all.addAll(test.examples());
            }
            FormalLanguageEval.Report report =
                    FormalLanguageEval.evaluate(task, predictions.toArray(new long[0][]), all, TEST_BUCKETS);
            return new Result(o, params, trainAccuracy, report, summary.lastTrainLoss(),
                    (System.nanoTime() - start) / 1e9);
        }
    }

    private static FormalLanguageEval.Report evaluate(Block block, NDManager manager, FormalTask task,
            Supervision supervision, int min, int max, int count, long seed,
            List<FormalLanguageEval.LengthBucket> buckets) {
        FormalLanguageDataset d = dataset(task, supervision, min, max, count, seed);
        return FormalLanguageEval.evaluate(task, predict(block, manager, d).toArray(new long[0][]), d.examples(), buckets);
    }

    private static FormalLanguageDataset dataset(FormalTask task, Supervision supervision, int min, int max,
            int count, long seed) {
        return FormalLanguageDataset.builder().setTask(task).optSupervision(supervision)
                .optLengthRange(min, max).setNumExamples(count).optSeed(seed).setSampling(32, false).build();
    }

    /** Argmax predictions {@code [N][T]} for every example of {@code data}, in batches of 32. */
    private static List<long[]> predict(Block block, NDManager manager, FormalLanguageDataset data) {
        List<long[]> out = new ArrayList<>();
        int t = data.sequenceLength();
        List<FormalExample> examples = data.examples();
        for (int from = 0; from < examples.size(); from += 32) {
            int to = Math.min(examples.size(), from + 32);
            try (NDManager scope = manager.newSubManager()) {
                long[] flat = new long[(to - from) * t];
                for (int i = from; i < to; i++) {
                    System.arraycopy(examples.get(i).paddedTokens(t, data.task().padToken()), 0, flat, (i - from) * t, t);
                }
                NDArray tokens = scope.create(flat).reshape(to - from, t);
                NDArray logits = block.forward(new ParameterStore(scope, false), new NDList(tokens), false).get(0);
                long[] argmax = logits.argMax(2).toType(ai.djl.ndarray.types.DataType.INT64, false).toLongArray();
                for (int i = 0; i < to - from; i++) {
                    long[] row = new long[t];
                    System.arraycopy(argmax, i * t, row, 0, t);
                    out.add(row);
                }
            }
        }
        return out;
    }

    /** The model of {@code architecture} for {@code task}'s vocabulary. */
    public static Block model(FormalTask task, Architecture architecture) {
        if (architecture == Architecture.LSTM) {
            return LstmBaseline.create(task.vocabSize(), 64, 84, 2);
        }
        List<Integer> slstmAt = switch (architecture) {
            case SLSTM -> List.of(0, 1);
            case MLSTM -> List.of();
            default -> List.of(1);
        };
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", "xlstm-neurips");
        m.put("vocab_size", task.vocabSize());
        m.put("embedding_dim", 64);
        m.put("num_blocks", 2);
        m.put("slstm_at", slstmAt);
        m.put("context_length", 256);
        m.put("mlstm", Map.of("num_heads", 1, "proj_factor", 4.0, "conv1d_kernel_size", 4, "qkv_proj_blocksize", 4));
        m.put("slstm", Map.of("num_heads", 1, "conv1d_kernel_size", 4));
        m.put("feedforward", Map.of("proj_factor", 1.3, "act_fn", "gelu"));
        XLstmConfig config = XLstmConfig.fromMap(m);
        return XLstmLanguageModel.create(config);
    }
}
