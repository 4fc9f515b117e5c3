package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.xlstm.config.ConfigFiles;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.training.TokenWindowDataset;
import ai.djl.xlstm.training.TrainingSession;
import ai.djl.xlstm.training.TrainingSettings;
import ai.djl.xlstm.zoo.HuggingFaceTextCodec;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code xlstm train}: trains a language model from scratch on plain text (or resumes a run), with
 * a progress bar; writes the checkpoint, {@code metrics.csv} and {@code loss.png} into the output
 * folder.
 */
@Command(name = "train", mixinStandardHelpOptions = true, version = XLstmCli.VERSION,
        description = "Train an xLSTM language model on plain text.")
final class TrainCommand implements Callable<Integer> {

    @Option(names = "--text", required = true, paramLabel = "FILE_OR_DIR", description = "a text file, or a folder of .txt documents")
    private Path text;

    @Option(names = "--tokenizer", required = true, paramLabel = "tokenizer.json", description = "a Hugging Face tokenizer.json")
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

    @Override
    public Integer call() throws Exception {
        Device device = engine.device();
        requireFile(text, "--text");
        requireFile(tokenizer, "--tokenizer");
        if (seqLen < 2) {
            throw new IllegalArgumentException("--seq-len must be >= 2, got " + seqLen);
        }
        if (!(lr > 0) || !Float.isFinite(lr)) {
            throw new IllegalArgumentException("--lr must be > 0, got " + lr);
        }
        if (resume == null && config == null) {
            throw new IllegalArgumentException("--config is required (or --resume DIR)");
        }
        if (resume == null && out == null) {
            throw new IllegalArgumentException("--out is required (or --resume DIR)");
        }
        Path modelConfig = resume != null ? resume.resolve("config.json") : config;
        requireFile(modelConfig, resume != null ? "--resume" : "--config");
        XLstmConfig model = ConfigFiles.read(modelConfig);
        int tokenizerVocab = HuggingFaceTextCodec.vocabularySize(tokenizer);
        if (tokenizerVocab > model.vocabSize()) {
            throw new IllegalArgumentException("the tokenizer " + tokenizer + " has " + tokenizerVocab
                    + " tokens but the model's vocab_size is " + model.vocabSize());
        }

        long[][] split;
        try (HuggingFaceTextCodec tok = HuggingFaceTextCodec.load(tokenizer)) {
            split = TokenWindowDataset.split(text, tok, 0.1);
        }
        TokenWindowDataset train = TokenWindowDataset.builder().setTokens(split[0]).setSequenceLength(seqLen)
                .setSampling(batch, true).build();
        TokenWindowDataset validation = TokenWindowDataset.builder().setTokens(split[1]).setSequenceLength(seqLen)
                .setSampling(batch, false).build();
        System.out.printf(Locale.ROOT, "corpus: %,d training tokens, %,d validation tokens (%d x %d per batch)%n",
                train.tokenCount(), validation.tokenCount(), batch, seqLen);

        TrainingSession session;
        Path dir;
        if (resume != null) {
            session = TrainingSession.resume(resume, steps, device);
            dir = resume;
            System.out.printf(Locale.ROOT, "resuming %s at step %d of %d%n", resume, session.getStep(), steps);
        } else {
            TrainingSettings settings = new TrainingSettings(steps, batch, accumulate, lr, lr / 10,
                    warmup >= 0 ? warmup : Math.max(1, steps / 10), weightDecay, clip, seed,
                    Math.max(1, Math.min(10, steps / 100)), validateEvery, validationBatches, checkpointEvery);
            session = TrainingSession.fresh(model, settings, out, device);
            dir = out;
            long params = session.getBlock().getParameters().values().stream()
                    .mapToLong(p -> p.getArray().size()).sum();
            System.out.printf(Locale.ROOT, "model: %s, %,d parameters%n", model.architecture(), params);
        }
        // The checkpoint folder carries its tokenizer, so `xlstm generate --model-path DIR` needs nothing else.
        Path tokenizerCopy = dir.resolve("tokenizer.json");
        if (!Files.exists(tokenizerCopy) || !Files.isSameFile(tokenizer, tokenizerCopy)) {
            Files.createDirectories(dir);
            Files.copy(tokenizer, tokenizerCopy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        try (session) {
            TrainingSession.Summary s = session.train(train, validation, true);
            LossPlot.write(session.getMetrics().rows(), dir.resolve("loss.png"));
            System.out.printf(Locale.ROOT, "step %d: train loss %.4f, validation loss %.4f (perplexity %.2f), %.0f tokens/s%n",
                    s.steps(), s.lastTrainLoss(), s.lastValLoss(), s.lastValPerplexity(), s.tokensPerSecond());
            System.out.println("wrote " + dir.resolve("model.safetensors") + ", " + dir.resolve("metrics.csv")
                    + ", " + dir.resolve("loss.png"));
        }
        return 0;
    }

    static void requireFile(Path path, String option) {
        if (path == null || !Files.exists(path)) {
            throw new IllegalArgumentException(option + ": file not found: " + path);
        }
    }
}
