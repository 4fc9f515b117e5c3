package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.xlstm.config.ConfigFiles;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.training.TokenWindowDataset;
import ai.djl.xlstm.training.TrainingSession;
import ai.djl.xlstm.training.TrainingSettings;
import ai.djl.xlstm.zoo.HuggingFaceTextCodec;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code xlstm train}: trains a language model from scratch on plain text (or resumes a run), with
 * a progress bar; writes checkpoints (see {@link TrainingSession}), {@code metrics.csv}, {@code
 * loss.png}, the tokenizer and {@code run.json} into the run's folder. SIGINT or SIGTERM stops at
 * the next step boundary with a checkpoint and exits with 130 or 143; {@code --resume} continues
 * with every setting of the run.
 */
@Command(name = "train", mixinStandardHelpOptions = true, version = XLstmCli.VERSION,
        description = "Train an xLSTM language model on plain text.")
final class TrainCommand implements Callable<Integer> {

    @Option(names = "--text", paramLabel = "FILE_OR_DIR", description = "a text file, or a folder of .txt documents (with --resume: default the run's)")
    private Path text;

    @Option(names = "--tokenizer", paramLabel = "tokenizer.json", description = "a Hugging Face tokenizer.json (not with --resume: the run keeps its own)")
    private Path tokenizer;

    @Option(names = "--config", paramLabel = "model.json", description = "model config (upstream fields plus architecture); not needed with --resume")
    private Path config;

    @Option(names = "--out", paramLabel = "DIR", description = "output folder (default: the --resume folder)")
    private Path out;

    @Option(names = "--resume", paramLabel = "DIR", description = "continue the run checkpointed in DIR")
    private Path resume;

    @Option(names = "--steps", defaultValue = "1000", description = "optimizer updates (default: ${DEFAULT-VALUE})")
    private int steps;

    @Option(names = "--batch", defaultValue = "8", description = "sequences per batch (default: ${DEFAULT-VALUE})")
    private int batch;

    @Option(names = "--seq-len", defaultValue = "256", description = "tokens per sequence (default: ${DEFAULT-VALUE})")
    private int seqLen;

    @Option(names = "--lr", defaultValue = "1e-3", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    private float lr;

    @Option(names = "--warmup", defaultValue = "-1", description = "warm-up updates (default: 10%% of --steps)")
    private int warmup;

    @Option(names = "--accumulate", defaultValue = "1", description = "micro-batches per update (default: ${DEFAULT-VALUE})")
    private int accumulate;

    @Option(names = "--weight-decay", defaultValue = "0.1", description = "decoupled weight decay (default: ${DEFAULT-VALUE})")
    private float weightDecay;

    @Option(names = "--clip", defaultValue = "1.0", description = "global gradient-norm clip, 0 for none (default: ${DEFAULT-VALUE})")
    private float clip;

    @Option(names = "--validate-every", defaultValue = "100", description = "updates between validations (default: ${DEFAULT-VALUE})")
    private int validateEvery;

    @Option(names = "--validation-batches", defaultValue = "20", description = "batches per validation, 0 for all (default: ${DEFAULT-VALUE})")
    private int validationBatches;

    @Option(names = "--checkpoint-every", defaultValue = "200", description = "updates between checkpoints (default: ${DEFAULT-VALUE})")
    private int checkpointEvery;

    @Option(names = "--seed", defaultValue = "0", description = "seed of initialization and data order (default: ${DEFAULT-VALUE})")
    private long seed;

    @Mixin
    private DeviceOptions engine;

    @Spec
    private CommandSpec spec;

    /** What a run's folder records besides its checkpoints: the data and window of its batches. */
    private record RunFile(String text, int seqLen) {}

    private static final String RUN_FILE = "run.json";

    @Override
    public Integer call() throws Exception {
        Device device = engine.device();
        if (resume == null && config == null) {
            throw new IllegalArgumentException("--config is required (or --resume DIR)");
        }
        if (resume == null && out == null) {
            throw new IllegalArgumentException("--out is required (or --resume DIR)");
        }
        Path dir;
        TrainingSettings settings;
        XLstmConfig model;
        Path tokenizerFile;
        if (resume != null) {
            dir = runFolder(resume);
            settings = TrainingSession.settingsOf(resume);
            RunFile run = readRunFile(dir);
            refuseChangedSettings(settings, run, dir);
            if (text == null) {
                text = Path.of(run.text());
            }
            seqLen = run.seqLen();
            tokenizerFile = dir.resolve("tokenizer.json");
            requireFile(tokenizerFile, "--resume (the run's tokenizer.json)");
            model = ConfigFiles.readFolder(ai.djl.xlstm.io.UpstreamCheckpoint.resolveFolder(dir));
        } else {
            dir = out;
            requireFile(config, "--config");
            requireFile(tokenizer, "--tokenizer");
            if (seqLen < 2) {
                throw new IllegalArgumentException("--seq-len must be >= 2, got " + seqLen);
            }
            if (!(lr > 0) || !Float.isFinite(lr)) {
                throw new IllegalArgumentException("--lr must be > 0, got " + lr);
            }
            if (Files.isRegularFile(out.resolve(ai.djl.xlstm.io.UpstreamCheckpoint.LATEST))) {
                throw new IllegalArgumentException("--out " + out + " already holds a training run: continue it with --resume "
                        + out + ", or choose another folder");
            }
            model = ConfigFiles.read(config);
            settings = new TrainingSettings(steps, batch, accumulate, lr, lr / 10,
                    warmup >= 0 ? warmup : Math.max(1, steps / 10), weightDecay, clip, seed,
                    Math.max(1, Math.min(10, steps / 100)), validateEvery, validationBatches, checkpointEvery);
            tokenizerFile = tokenizer;
        }
        requireFile(text, "--text");
        int tokenizerVocab = HuggingFaceTextCodec.vocabularySize(tokenizerFile);
        if (tokenizerVocab > model.vocabSize()) {
            throw new IllegalArgumentException("the tokenizer " + tokenizerFile + " has " + tokenizerVocab
                    + " tokens but the model's vocab_size is " + model.vocabSize());
        }

        long[][] split;
        try (HuggingFaceTextCodec tok = HuggingFaceTextCodec.load(tokenizerFile)) {
            split = TokenWindowDataset.split(text, tok, 0.1);
        }
        int batchSize = settings.batchSize();
        TokenWindowDataset train = TokenWindowDataset.builder().setTokens(split[0]).setSequenceLength(seqLen)
                .setSampling(batchSize, true).build();
        TokenWindowDataset validation = TokenWindowDataset.builder().setTokens(split[1]).setSequenceLength(seqLen)
                .setSampling(batchSize, false).build();
        System.out.printf(Locale.ROOT, "corpus: %,d training tokens, %,d validation tokens (%d x %d per batch)%n",
                train.tokenCount(), validation.tokenCount(), batchSize, seqLen);

        TrainingSession session;
        if (resume != null) {
            boolean newSteps = spec.commandLine().getParseResult().hasMatchedOption("--steps");
            session = TrainingSession.resume(resume, newSteps ? steps : null, device);
            TrainingSettings s = session.getSettings();
            System.out.printf(Locale.ROOT, "resuming %s at step %d of %d with its settings: batch %d x %d, lr %s,"
                    + " warm-up %d, accumulate %d, weight decay %s, clip %s, seed %d, validate every %d (%d batches),"
                    + " checkpoint every %d%n", dir, session.getStep(), s.steps(), s.batchSize(), seqLen,
                    s.learningRate(), s.warmupSteps(), s.accumulationSteps(), s.weightDecay(), s.maxGradNorm(),
                    s.seed(), s.validateEvery(), s.validationBatches(), s.checkpointEvery());
        } else {
            session = TrainingSession.fresh(model, settings, out, device);
            long params = session.getBlock().getParameters().values().stream()
                    .mapToLong(p -> p.getArray().size()).sum();
            System.out.printf(Locale.ROOT, "model: %s, %,d parameters%n", model.architecture(), params);
            // The run's folder carries its tokenizer and data settings, so that `xlstm generate
            // --model-path DIR` needs nothing else and `--resume DIR` takes everything from it.
            Files.createDirectories(dir);
            Files.copy(tokenizer, dir.resolve("tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            ai.djl.xlstm.io.AtomicFiles.writeString(dir.resolve(RUN_FILE),
                    new com.google.gson.GsonBuilder().setPrettyPrinting().create()
                            .toJson(new RunFile(text.toAbsolutePath().toString(), seqLen)));
        }
        try (session; StopOnSignal stop = StopOnSignal.install(session::requestStop)) {
            TrainingSession.Summary s = session.train(train, validation, true);
            LossPlot.write(session.getMetrics().rows(), dir.resolve("loss.png"));
            System.out.printf(Locale.ROOT, "step %d: train loss %.4f, validation loss %.4f (perplexity %.2f), %.0f tokens/s%n",
                    s.steps(), s.lastTrainLoss(), s.lastValLoss(), s.lastValPerplexity(), s.tokensPerSecond());
            System.out.println("wrote " + dir + " (checkpoint " + ai.djl.xlstm.io.UpstreamCheckpoint.resolveFolder(dir).getFileName()
                    + ", metrics.csv, loss.png)");
            if (s.stopped()) {
                System.out.println("stopped by " + stop.signal() + " after a checkpoint; continue with --resume " + dir);
                return stop.exitCode();
            }
        }
        return 0;
    }

    /** The run's folder of {@code resume}: the folder itself, or the run holding a checkpoint folder. */
    private static Path runFolder(Path resume) {
        Path parent = resume.toAbsolutePath().getParent();
        if (!Files.isRegularFile(resume.resolve(RUN_FILE)) && parent != null
                && Files.isRegularFile(parent.resolve(RUN_FILE))) {
            return parent;
        }
        return resume;
    }

    private static RunFile readRunFile(Path dir) throws java.io.IOException {
        Path file = dir.resolve(RUN_FILE);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--resume " + dir + ": no " + RUN_FILE + " (not a run written by xlstm train)");
        }
        RunFile run = new com.google.gson.Gson().fromJson(Files.readString(file), RunFile.class);
        if (run == null || run.text() == null || run.seqLen() < 2) {
            throw new IllegalArgumentException(file + " is incomplete: it must name text and seqLen");
        }
        return run;
    }

    /**
     * On resume every setting comes from the run; an option given with another value is an error
     * (the run would silently change). --steps, --text (where the data now lives), --device,
     * --threads and --verbose may change.
     */
    private void refuseChangedSettings(TrainingSettings s, RunFile run, Path dir) throws java.io.IOException {
        java.util.List<String> conflicts = new java.util.ArrayList<>();
        CommandLine.ParseResult given = spec.commandLine().getParseResult();
        conflict(conflicts, given, "--batch", batch, s.batchSize());
        conflict(conflicts, given, "--seq-len", seqLen, run.seqLen());
        conflict(conflicts, given, "--lr", lr, s.learningRate());
        conflict(conflicts, given, "--warmup", warmup, s.warmupSteps());
        conflict(conflicts, given, "--accumulate", accumulate, s.accumulationSteps());
        conflict(conflicts, given, "--weight-decay", weightDecay, s.weightDecay());
        conflict(conflicts, given, "--clip", clip, s.maxGradNorm());
        conflict(conflicts, given, "--validate-every", validateEvery, s.validateEvery());
        conflict(conflicts, given, "--validation-batches", validationBatches, s.validationBatches());
        conflict(conflicts, given, "--checkpoint-every", checkpointEvery, s.checkpointEvery());
        conflict(conflicts, given, "--seed", seed, s.seed());
        if (config != null) {
            conflicts.add("--config (the run's model is in its checkpoint)");
        }
        if (out != null && !out.toAbsolutePath().normalize().equals(dir.toAbsolutePath().normalize())) {
            conflicts.add("--out " + out + " (a resumed run writes into its own folder " + dir + ")");
        }
        if (tokenizer != null && !java.util.Arrays.equals(Files.readAllBytes(tokenizer),
                Files.readAllBytes(dir.resolve("tokenizer.json")))) {
            conflicts.add("--tokenizer " + tokenizer + " (differs from the run's tokenizer.json)");
        }
        if (!conflicts.isEmpty()) {
            throw new IllegalArgumentException("--resume takes every setting from the run in " + dir
                    + "; these options would change it: " + String.join(", ", conflicts)
                    + " (only --steps, --text, --device, --threads and --verbose may change)");
        }
    }

    private static void conflict(java.util.List<String> conflicts, CommandLine.ParseResult given, String option,
            Object value, Object saved) {
        if (given.hasMatchedOption(option) && !String.valueOf(value).equals(String.valueOf(saved))) {
            conflicts.add(option + " " + value + " (the run uses " + saved + ")");
        }
    }

    static void requireFile(Path path, String option) {
        if (path == null || !Files.exists(path)) {
            throw new IllegalArgumentException(option + ": file not found: " + path);
        }
    }
}
