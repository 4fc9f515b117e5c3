package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.internal.AtomicFiles;
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
 * and {@code run.json} (the corpus's path and SHA-256, the window) into the run's folder. SIGINT or
 * SIGTERM stops at the next step boundary with a checkpoint and exits with 130 or 143; a second
 * signal stops at the next step boundary without a checkpoint (never inside native code) and exits
 * the same way. {@code --resume} continues with every setting of the run, and on its corpus: a
 * text whose content differs is refused unless {@code --allow-new-text}. The run's folder is held
 * by one process at a time (see {@link TrainingSession}). A resume with nothing to do says so:
 * {@code --steps N} not past the run's step is an error (exit 2); a run already complete, resumed
 * without {@code --steps}, exits 0.
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

    /**
     * What a run's folder records besides its checkpoints: the data and window of its batches.
     *
     * @param textSha256 the corpus's {@link TokenWindowDataset#corpusSha256} (null in runs written
     *     before it was recorded)
     */
    private record RunFile(String text, int seqLen, String textSha256) {}

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
        RunFile run = null;
        boolean newSteps = spec.commandLine().getParseResult().hasMatchedOption("--steps");
        if (o.resume != null) {
            dir = runFolder(o.resume);
            settings = TrainingSession.settingsOf(o.resume);
            run = readRunFile(dir);
            refuseChangedSettings(settings, run, dir, config, tokenizer);
            int at = TrainingSession.stepOf(o.resume);
            if (newSteps && o.steps <= at) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "run %s is already at step %d; --steps %d"
                        + " is not past it; nothing to do (--steps counts every update of the run: --steps %d trains %d"
                        + " more)", dir, at, o.steps, at + Math.max(1, o.steps), Math.max(1, o.steps)));
            }
            if (!newSteps && at >= settings.steps()) {
                System.out.printf(Locale.ROOT, "run %s is already complete at step %d of %d; nothing to do (pass --steps N"
                        + " with N > %d to train further)%n", dir, at, settings.steps(), at);
                return 0;
            }
            if (text == null) {
                text = Path.of(run.text());
            }
            seqLen = run.seqLen();
            tokenizerFile = dir.resolve("tokenizer.json");
            requireFile(tokenizerFile, "--resume (the run's tokenizer.json)");
            model = XLstmConfig.read(UpstreamCheckpoint.resolveFolder(dir));
        } else {
            if (o.out == null) {
                throw new IllegalArgumentException("--out is required (or --resume DIR)");
            }
            dir = o.out;
            if (o.allowNewText) {
                throw new IllegalArgumentException("--allow-new-text applies only with --resume (a new run records its corpus)");
            }
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
            TrainingSettings.Builder b = TrainingSettings.builder().steps(steps).batchSize(o.batch)
                    .accumulationSteps(o.accumulate).learningRate(lr).weightDecay(o.weightDecay).maxGradNorm(o.clip)
                    .seed(o.seed).validateEvery(o.validateEvery).validationBatches(o.validationBatches)
                    .checkpointEvery(o.checkpointEvery);
            if (o.warmup >= 0) {
                b.warmupSteps(o.warmup);
            }
            settings = b.build();
        }
        if (text == null) {
            throw new IllegalArgumentException("--text is required");
        }
        requireFile(text, "--text");
        String textSha256 = TokenWindowDataset.corpusSha256(text);
        if (run != null && run.textSha256() != null && !run.textSha256().equals(textSha256) && !o.allowNewText) {
            throw new IllegalArgumentException((o.text != null
                    ? "--text " + o.text + " (sha256 " + textSha256 + ") is not the corpus the run in " + dir
                            + " was trained on (" + run.text() + ", sha256 " + run.textSha256() + ")"
                    : "the run's corpus " + run.text() + " has changed since the run in " + dir + " began (sha256 "
                            + run.textSha256() + " then, " + textSha256 + " now)")
                    + ": pass --allow-new-text to continue the run on it");
        }
        int tokenizerVocab = HuggingFaceTextCodec.vocabularySize(tokenizerFile);
        if (tokenizerVocab > model.vocabSize()) {
            throw new IllegalArgumentException("the tokenizer " + tokenizerFile + " has " + tokenizerVocab
                    + " tokens but the model's vocab_size is " + model.vocabSize());
        }

        // The session holds the run's folder from here until it closes: a second writer is refused
        // before it tokenizes anything.
        TrainingSession session = o.resume != null
                ? TrainingSession.resume(o.resume, newSteps ? o.steps : null, device)
                : start.session(settings, dir, device);
        TokenWindowDataset train;
        TokenWindowDataset validation;
        try {
            RunFile now = new RunFile(text.toAbsolutePath().toString(), seqLen, textSha256);
            if (o.resume != null) {
                TrainingSettings s = session.getSettings();
                System.out.printf(Locale.ROOT, "resuming %s at step %d of %d with its settings: batch %d x %d, lr %s,"
                        + " warm-up %d, accumulate %d, weight decay %s, clip %s, seed %d, validate every %d (%d batches),"
                        + " checkpoint every %d%n", dir, session.getStep(), s.steps(), s.batchSize(), seqLen,
                        s.learningRate(), s.warmupSteps(), s.accumulationSteps(), s.weightDecay(), s.maxGradNorm(),
                        s.seed(), s.validateEvery(), s.validationBatches(), s.checkpointEvery());
                if (run.textSha256() != null && !run.textSha256().equals(textSha256)) {
                    System.out.println("continuing on a new corpus (--allow-new-text): " + text + ", sha256 " + textSha256
                            + " (was " + run.text() + ", sha256 " + run.textSha256() + ")");
                }
                if (!now.equals(run)) { // a new corpus, a corpus moved, or a run that predates the hash
                    writeRunFile(dir, now);
                }
            } else {
                long params = session.getBlock().getParameters().values().stream()
                        .mapToLong(p -> p.getArray().size()).sum();
                System.out.printf(Locale.ROOT, "model: %s, %,d parameters%n", model.architecture(), params);
                // The run's folder carries its tokenizer and data settings, so that `xlstm generate
                // --model-path DIR` needs nothing else and `--resume DIR` takes everything from it.
                Files.createDirectories(dir);
                Files.copy(tokenizerFile, dir.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
                writeRunFile(dir, now);
            }
            long[][] split;
            try (HuggingFaceTextCodec tok = HuggingFaceTextCodec.load(tokenizerFile)) {
                split = TokenWindowDataset.split(text, tok, 0.1);
            }
            int batchSize = settings.batchSize();
            train = TokenWindowDataset.builder().setTokens(split[0]).setSequenceLength(seqLen)
                    .setSampling(batchSize, true).build();
            validation = TokenWindowDataset.builder().setTokens(split[1]).setSequenceLength(seqLen)
                    .setSampling(batchSize, false).build();
            System.out.printf(Locale.ROOT, "corpus: %,d training tokens, %,d validation tokens (%d x %d per batch)%n",
                    train.tokenCount(), validation.tokenCount(), batchSize, seqLen);
        } catch (Exception e) {
            try {
                session.close(); // releases the run's folder
            } catch (RuntimeException closing) {
                e.addSuppressed(closing);
            }
            throw e;
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

    private static void writeRunFile(Path dir, RunFile run) throws IOException {
        AtomicFiles.writeString(dir.resolve(RUN_FILE), new GsonBuilder().setPrettyPrinting().create().toJson(run));
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
