package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.xlstm.config.ConfigFiles;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.io.AtomicFiles;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.training.TokenWindowDataset;
import ai.djl.xlstm.training.TrainingSession;
import ai.djl.xlstm.training.TrainingSettings;
import ai.djl.xlstm.zoo.HuggingFaceTextCodec;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A training run of {@code train} or {@code finetune}: tokenizes the corpus, starts a session (a
 * new one the command makes, or {@code --resume}), trains with a progress bar, and writes
 * checkpoints (see {@link TrainingSession}), {@code metrics.csv}, {@code loss.png}, the tokenizer
 * and {@code run.json} into the run's folder. SIGINT or SIGTERM stops at the next step boundary
 * with a checkpoint and exits with 130 or 143; a second signal stops at the next step boundary
 * without a checkpoint (never inside native code) and exits the same way; {@code --resume}
 * continues with every setting of the run.
 */
final class TrainingRun {

    /** How a command starts a new run. */
    interface Start {

        /** The model's config, to check the tokenizer against. */
        XLstmConfig config() throws IOException;

        /** The tokenizer of the new run. */
        Path tokenizer() throws IOException;

        /** The new session. */
        TrainingSession session(TrainingSettings settings, Path out, Device device) throws IOException;
    }

    /** What a run's folder records besides its checkpoints: the data and window of its batches. */
    private record RunFile(String text, int seqLen) {}

    private static final String RUN_FILE = "run.json";

    private final TrainingOptions o;
    private final CommandSpec spec;

    TrainingRun(TrainingOptions options, CommandSpec spec) {
        this.o = options;
        this.spec = spec;
    }

    /**
     * Runs: a new run started by {@code start} (null with {@code --resume}), the defaults of the
     * command being {@code defaultSteps} and {@code defaultLr}; {@code config} and {@code tokenizer}
     * are the command's own options (null when absent), refused on resume if they would change the
     * run.
     */
    int run(Start start, Device device, int defaultSteps, float defaultLr, Path config, Path tokenizer)
            throws Exception {
        int steps = o.steps != null ? o.steps : defaultSteps;
        float lr = o.lr != null ? o.lr : defaultLr;
        Path text = o.text;
        int seqLen = o.seqLen;
        Path dir;
        TrainingSettings settings;
        XLstmConfig model;
        Path tokenizerFile;
        if (o.resume != null) {
            dir = runFolder(o.resume);
            settings = TrainingSession.settingsOf(o.resume);
            RunFile run = readRunFile(dir);
            refuseChangedSettings(settings, run, dir, config, tokenizer);
            if (text == null) {
                text = Path.of(run.text());
            }
            seqLen = run.seqLen();
            tokenizerFile = dir.resolve("tokenizer.json");
            requireFile(tokenizerFile, "--resume (the run's tokenizer.json)");
            model = ConfigFiles.readFolder(UpstreamCheckpoint.resolveFolder(dir));
        } else {
            if (o.out == null) {
                throw new IllegalArgumentException("--out is required (or --resume DIR)");
            }
            dir = o.out;
            if (seqLen < 2) {
                throw new IllegalArgumentException("--seq-len must be >= 2, got " + seqLen);
            }
            if (!(lr > 0) || !Float.isFinite(lr)) {
                throw new IllegalArgumentException("--lr must be > 0, got " + lr);
            }
            if (Files.isRegularFile(dir.resolve(UpstreamCheckpoint.LATEST))) {
                throw new IllegalArgumentException("--out " + dir + " already holds a training run: continue it with --resume "
                        + dir + ", or choose another folder");
            }
            model = start.config();
            tokenizerFile = start.tokenizer();
            settings = new TrainingSettings(steps, o.batch, o.accumulate, lr, lr / 10,
                    o.warmup >= 0 ? o.warmup : Math.max(1, steps / 10), o.weightDecay, o.clip, o.seed,
                    Math.max(1, Math.min(10, steps / 100)), o.validateEvery, o.validationBatches, o.checkpointEvery);
        }
        if (text == null) {
            throw new IllegalArgumentException("--text is required");
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
        if (o.resume != null) {
            boolean newSteps = spec.commandLine().getParseResult().hasMatchedOption("--steps");
            session = TrainingSession.resume(o.resume, newSteps ? o.steps : null, device);
            TrainingSettings s = session.getSettings();
            System.out.printf(Locale.ROOT, "resuming %s at step %d of %d with its settings: batch %d x %d, lr %s,"
                    + " warm-up %d, accumulate %d, weight decay %s, clip %s, seed %d, validate every %d (%d batches),"
                    + " checkpoint every %d%n", dir, session.getStep(), s.steps(), s.batchSize(), seqLen,
                    s.learningRate(), s.warmupSteps(), s.accumulationSteps(), s.weightDecay(), s.maxGradNorm(),
                    s.seed(), s.validateEvery(), s.validationBatches(), s.checkpointEvery());
        } else {
            session = start.session(settings, dir, device);
            long params = session.getBlock().getParameters().values().stream()
                    .mapToLong(p -> p.getArray().size()).sum();
            System.out.printf(Locale.ROOT, "model: %s, %,d parameters%n", model.architecture(), params);
            // The run's folder carries its tokenizer and data settings, so that `xlstm generate
            // --model-path DIR` needs nothing else and `--resume DIR` takes everything from it.
            Files.createDirectories(dir);
            Files.copy(tokenizerFile, dir.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
            AtomicFiles.writeString(dir.resolve(RUN_FILE), new GsonBuilder().setPrettyPrinting().create()
                    .toJson(new RunFile(text.toAbsolutePath().toString(), seqLen)));
        }
        // the handlers stay installed until the session is closed (resources close in reverse order)
        try (StopOnSignal stop = StopOnSignal.install(session::requestStop, session::requestStopWithoutCheckpoint);
                session) {
            TrainingSession.Summary s = session.train(train, validation, true);
            if (s.ending() == TrainingSession.Ending.STOPPED_WITHOUT_CHECKPOINT) {
                Path latest = dir.resolve(UpstreamCheckpoint.LATEST);
                System.out.println("stopped by " + stop.signal() + " again at step " + s.steps() + " without a checkpoint; "
                        + (Files.isRegularFile(latest) ? "continue from "
                                + UpstreamCheckpoint.resolveFolder(dir).getFileName() + " with --resume " + dir
                                : "no checkpoint was written"));
                return stop.exitCode();
            }
            LossPlot.write(session.getMetrics().rows(), dir.resolve("loss.png"));
            System.out.printf(Locale.ROOT, "step %d: train loss %.4f, validation loss %.4f (perplexity %.2f), %.0f tokens/s%n",
                    s.steps(), s.lastTrainLoss(), s.lastValLoss(), s.lastValPerplexity(), s.tokensPerSecond());
            System.out.println("wrote " + dir + " (checkpoint " + UpstreamCheckpoint.resolveFolder(dir).getFileName()
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

    private static RunFile readRunFile(Path dir) throws IOException {
        Path file = dir.resolve(RUN_FILE);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--resume " + dir + ": no " + RUN_FILE + " (not a run written by xlstm train)");
        }
        RunFile run = new Gson().fromJson(Files.readString(file), RunFile.class);
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
    private void refuseChangedSettings(TrainingSettings s, RunFile run, Path dir, Path config, Path tokenizer)
            throws IOException {
        List<String> conflicts = new ArrayList<>();
        CommandLine.ParseResult given = spec.commandLine().getParseResult();
        conflict(conflicts, given, "--batch", o.batch, s.batchSize());
        conflict(conflicts, given, "--seq-len", o.seqLen, run.seqLen());
        conflict(conflicts, given, "--lr", o.lr, s.learningRate());
        conflict(conflicts, given, "--warmup", o.warmup, s.warmupSteps());
        conflict(conflicts, given, "--accumulate", o.accumulate, s.accumulationSteps());
        conflict(conflicts, given, "--weight-decay", o.weightDecay, s.weightDecay());
        conflict(conflicts, given, "--clip", o.clip, s.maxGradNorm());
        conflict(conflicts, given, "--validate-every", o.validateEvery, s.validateEvery());
        conflict(conflicts, given, "--validation-batches", o.validationBatches, s.validationBatches());
        conflict(conflicts, given, "--checkpoint-every", o.checkpointEvery, s.checkpointEvery());
        conflict(conflicts, given, "--seed", o.seed, s.seed());
        if (config != null) {
            conflicts.add("--config (the run's model is in its checkpoint)");
        }
        if (o.out != null && !o.out.toAbsolutePath().normalize().equals(dir.toAbsolutePath().normalize())) {
            conflicts.add("--out " + o.out + " (a resumed run writes into its own folder " + dir + ")");
        }
        if (tokenizer != null && !Arrays.equals(Files.readAllBytes(tokenizer),
                Files.readAllBytes(dir.resolve("tokenizer.json")))) {
            conflicts.add("--tokenizer " + tokenizer + " (differs from the run's tokenizer.json)");
        }
        if (!conflicts.isEmpty()) {
            throw new IllegalArgumentException("--resume takes every setting from the run in " + dir
                    + "; these options would change it: " + String.join(", ", conflicts)
                    + " (only --steps, --text, --device, --threads and --verbose may change)");
        }
    }

    private static void conflict(List<String> conflicts, CommandLine.ParseResult given, String option,
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
