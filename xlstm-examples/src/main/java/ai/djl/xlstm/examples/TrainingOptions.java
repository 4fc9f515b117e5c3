package ai.djl.xlstm.examples;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The options of a training run, shared by {@code train} and {@code finetune}. */
final class TrainingOptions {

    @Option(names = "--text", paramLabel = "FILE_OR_DIR", description = "a text file, or a folder of .txt documents (with --resume: default the run's)")
    Path text;

    @Option(names = "--allow-new-text", description = "with --resume: continue on a corpus whose content differs from the run's")
    boolean allowNewText;

    @Option(names = "--out", paramLabel = "DIR", description = "output folder (default: the --resume folder)")
    Path out;

    @Option(names = "--resume", paramLabel = "DIR", description = "continue the run checkpointed in DIR")
    Path resume;

    @Option(names = "--steps", description = "optimizer updates in all (default: 1000 for train, 200 for finetune; with --resume: a new total past the run's step)")
    Integer steps;

    @Option(names = "--batch", defaultValue = "8", description = "sequences per batch (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--seq-len", defaultValue = "256", description = "tokens per sequence (default: ${DEFAULT-VALUE})")
    int seqLen;

    @Option(names = "--lr", description = "peak learning rate (default: 1e-3 for train, 1e-4 for finetune)")
    Float lr;

    @Option(names = "--warmup", defaultValue = "-1", description = "warm-up updates (default: 10%% of --steps)")
    int warmup;

    @Option(names = "--accumulate", defaultValue = "1", description = "micro-batches per update (default: ${DEFAULT-VALUE})")
    int accumulate;

    @Option(names = "--weight-decay", defaultValue = "0.1", description = "decoupled weight decay (default: ${DEFAULT-VALUE})")
    float weightDecay;

    @Option(names = "--clip", defaultValue = "1.0", description = "global gradient-norm clip, 0 for none (default: ${DEFAULT-VALUE})")
    float clip;

    @Option(names = "--validate-every", defaultValue = "100", description = "updates between validations (default: ${DEFAULT-VALUE})")
    int validateEvery;

    @Option(names = "--validation-batches", defaultValue = "20", description = "batches per validation, 0 for all (default: ${DEFAULT-VALUE})")
    int validationBatches;

    @Option(names = "--checkpoint-every", defaultValue = "200", description = "updates between checkpoints (default: ${DEFAULT-VALUE})")
    int checkpointEvery;

    @Option(names = "--seed", defaultValue = "0", description = "seed of initialization and data order (default: ${DEFAULT-VALUE})")
    long seed;
}
