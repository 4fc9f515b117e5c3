package ai.djl.xlstm.examples.baseline;

import ai.djl.ndarray.NDManager;
import ai.djl.training.util.ProgressBar;
import ai.djl.xlstm.examples.StopOnSignal;
import ai.djl.xlstm.internal.AtomicFiles;
import ai.djl.xlstm.training.TextEvaluation;
import ai.djl.xlstm.training.TokenWindowDataset;
import ai.djl.xlstm.training.TrainingSession;
import ai.djl.xlstm.training.TrainingSettings;
import ai.djl.xlstm.zoo.HuggingFaceTextCodec;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.DataOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Timer;
import java.util.TimerTask;
import java.util.concurrent.Callable;

/**
 * {@code xlstm lstm-baseline}: the paper's claim in miniature. Trains the classical {@link
 * LstmLanguageModel} on the same text, tokenizer and validation split as {@code xlstm train}, for
 * a number of updates or a wall-time budget (whichever ends first), then measures its perplexity
 * on a held-out text read as one sequence with its state carried, as {@code xlstm eval} does for
 * an xLSTM. Writes {@code results.json} and the weights ({@code lstm.params}, DJL's format).
 */
@Command(name = "lstm-baseline",
        description = "Train and evaluate the classical LSTM language model baseline.")
public final class LstmBaselineCommand implements Callable<Integer> {

    @Option(names = "--text", required = true, paramLabel = "FILE_OR_DIR", description = "the training text (a file or a folder of .txt)")
    private Path text;

    @Option(names = "--tokenizer", required = true, paramLabel = "tokenizer.json", description = "a Hugging Face tokenizer.json")
    private Path tokenizer;

    @Option(names = "--heldout", required = true, paramLabel = "FILE", description = "the held-out text")
    private Path heldout;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "where results.json and lstm.params go")
    private Path out;

    @Option(names = "--embedding", defaultValue = "256", description = "embedding size (default: ${DEFAULT-VALUE})")
    private int embedding;

    @Option(names = "--hidden", defaultValue = "272", description = "LSTM state size (default: ${DEFAULT-VALUE})")
    private int hidden;

    @Option(names = "--layers", defaultValue = "2", description = "LSTM layers (default: ${DEFAULT-VALUE})")
    private int layers;

    @Option(names = "--dropout", defaultValue = "0.1", description = "dropout between LSTM layers (default: ${DEFAULT-VALUE})")
    private float dropout;

    @Option(names = "--steps", defaultValue = "1000", description = "optimizer updates of the schedule (default: ${DEFAULT-VALUE})")
    private int steps;

    @Option(names = "--minutes", defaultValue = "0", description = "stop after this wall time, 0 for none (default: ${DEFAULT-VALUE})")
    private double minutes;

    @Option(names = "--batch", defaultValue = "16", description = "sequences per batch (default: ${DEFAULT-VALUE})")
    private int batch;

    @Option(names = "--seq-len", defaultValue = "256", description = "tokens per sequence (default: ${DEFAULT-VALUE})")
    private int seqLen;

    @Option(names = "--lr", defaultValue = "2e-3", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    private float lr;

    @Option(names = "--warmup", defaultValue = "60", description = "warm-up updates (default: ${DEFAULT-VALUE})")
    private int warmup;

    @Option(names = "--weight-decay", defaultValue = "0.1", description = "decoupled weight decay (default: ${DEFAULT-VALUE})")
    private float weightDecay;

    @Option(names = "--seed", defaultValue = "7", description = "seed (default: ${DEFAULT-VALUE})")
    private long seed;

    @Option(names = "--validate-every", defaultValue = "100", description = "updates between validations (default: ${DEFAULT-VALUE})")
    private int validateEvery;

    @Option(names = "--segment", defaultValue = "512", description = "tokens per forward pass of the held-out reading (default: ${DEFAULT-VALUE})")
    private int segment;

    @Override
    public Integer call() throws Exception {
        for (Path p : new Path[] {text, tokenizer, heldout}) {
            if (!Files.exists(p)) {
                throw new IllegalArgumentException("file not found: " + p);
            }
        }
        require(embedding >= 1, "--embedding must be >= 1, got " + embedding);
        require(hidden >= 1, "--hidden must be >= 1, got " + hidden);
        require(layers >= 1, "--layers must be >= 1, got " + layers);
        require(dropout >= 0 && dropout < 1, "--dropout must be in [0, 1), got " + dropout);
        require(steps >= 1, "--steps must be >= 1, got " + steps);
        require(minutes >= 0 && Double.isFinite(minutes), "--minutes must be >= 0, got " + minutes);
        require(batch >= 1, "--batch must be >= 1, got " + batch);
        require(seqLen >= 2, "--seq-len must be >= 2, got " + seqLen);
        require(lr > 0 && Float.isFinite(lr), "--lr must be > 0, got " + lr);
        require(warmup >= 0, "--warmup must be >= 0, got " + warmup);
        require(weightDecay >= 0, "--weight-decay must be >= 0, got " + weightDecay);
        require(validateEvery >= 0, "--validate-every must be >= 0, got " + validateEvery);
        require(segment >= 1, "--segment must be >= 1, got " + segment);
        require(!Files.exists(out.resolve("results.json")) && !Files.exists(out.resolve("lstm.params")),
                "--out " + out + " already holds a baseline run: choose a new folder");
        try (HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(tokenizer)) {
            int vocab = codec.vocabularySize();
            long[][] split = TokenWindowDataset.split(text, codec, 0.1);
            TokenWindowDataset train = TokenWindowDataset.builder().setTokens(split[0]).setSequenceLength(seqLen)
                    .setSampling(batch, true).build();
            TokenWindowDataset validation = TokenWindowDataset.builder().setTokens(split[1]).setSequenceLength(seqLen)
                    .setSampling(batch, false).build();
            LstmLanguageModel block = new LstmLanguageModel(vocab, embedding, hidden, layers, dropout);
            TrainingSettings settings = TrainingSettings.builder().steps(steps).batchSize(batch).learningRate(lr)
                    .warmupSteps(warmup).weightDecay(weightDecay).seed(seed).validateEvery(validateEvery)
                    .validationBatches(20).build();
            JsonObject results = new JsonObject();
            // SIGINT/SIGTERM end training at a step boundary, never inside libtorch (the first saves
            // the parameters and skips the held-out evaluation, a second saves nothing); the handlers
            // stay installed until the session is closed (resources close in reverse order)
            TrainingSession session = TrainingSession.fresh(block, settings, null, null);
            try (StopOnSignal signals = StopOnSignal.install(session::requestStop,
                    session::requestStopWithoutCheckpoint); session) {
                long params = block.getParameters().values().stream().mapToLong(p -> p.getArray().size()).sum();
                System.out.printf(Locale.ROOT, "LSTM baseline: %,d parameters (E %d, H %d, %d layers); %,d training tokens%n",
                        params, embedding, hidden, layers, train.tokenCount());
                Timer timer = new Timer("wall-time budget", true);
                if (minutes > 0) {
                    timer.schedule(new TimerTask() {
                        @Override
                        public void run() {
                            session.requestStop();
                        }
                    }, (long) (minutes * 60_000));
                }
                TrainingSession.Summary s;
                try {
                    s = session.train(train, validation, true);
                } finally {
                    timer.cancel();
                }
                if (s.ending() == TrainingSession.Ending.STOPPED_WITHOUT_CHECKPOINT) {
                    System.out.println("stopped by " + signals.signal() + " again at step " + s.steps()
                            + "; nothing saved");
                    return signals.exitCode();
                }
                Files.createDirectories(out);
                try (DataOutputStream os = new DataOutputStream(Files.newOutputStream(out.resolve("lstm.params")))) {
                    block.saveParameters(os);
                }
                if (signals.signal() != null) {
                    System.out.println("stopped by " + signals.signal() + " at step " + s.steps() + "; wrote "
                            + out.resolve("lstm.params") + ", nothing evaluated");
                    return signals.exitCode();
                }
                double[] val = session.validate(validation);
                long[] tokens = TextEvaluation.asDocument(codec.encode(Files.readString(heldout, StandardCharsets.UTF_8)),
                        codec.endOfText());
                NDManager manager = session.getModel().getNDManager();
                TextEvaluation.Result held;
                try (NDManager eval = manager.newSubManager()) {
                    held = TextEvaluation.evaluate(block, vocab, block.zeroState(eval, 1), eval, tokens, segment,
                            new ProgressBar());
                }
                results.addProperty("parameters", params);
                JsonObject run = new JsonObject(); // what reproduces the run
                run.addProperty("embedding", embedding);
                run.addProperty("hidden", hidden);
                run.addProperty("layers", layers);
                run.addProperty("dropout", dropout);
                run.addProperty("schedule_steps", steps);
                run.addProperty("minutes", minutes);
                run.addProperty("batch", batch);
                run.addProperty("seq_len", seqLen);
                run.addProperty("lr", lr);
                run.addProperty("warmup", warmup);
                run.addProperty("weight_decay", weightDecay);
                run.addProperty("seed", seed);
                results.add("settings", run);
                results.addProperty("steps", s.steps());
                results.addProperty("stopped_by_time", s.stopped());
                results.addProperty("train_seconds", s.seconds());
                results.addProperty("tokens_per_second", s.tokensPerSecond());
                results.addProperty("train_loss", s.lastTrainLoss());
                results.addProperty("validation_loss", val[0]);
                results.addProperty("validation_perplexity", val[1]);
                results.addProperty("heldout_tokens", held.tokens());
                results.addProperty("heldout_loss", held.loss());
                results.addProperty("heldout_perplexity", held.perplexity());
            }
            String json = new GsonBuilder().setPrettyPrinting().create().toJson(results);
            AtomicFiles.writeString(out.resolve("results.json"), json + "\n");
            System.out.println(json);
        }
        return 0;
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }
}
