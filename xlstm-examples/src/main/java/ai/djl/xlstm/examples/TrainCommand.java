package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.training.TrainingSession;
import ai.djl.xlstm.training.TrainingSettings;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code xlstm train}: trains a language model from scratch on plain text, or resumes a run (see
 * {@link TrainingRun}).
 */
@Command(name = "train",
        description = "Train an xLSTM language model on plain text.")
final class TrainCommand implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "model.json", description = "model config (upstream fields plus architecture); not with --resume")
    private Path config;

    @Option(names = "--tokenizer", paramLabel = "tokenizer.json", description = "a Hugging Face tokenizer.json (not with --resume: the run keeps its own)")
    private Path tokenizer;

    @Mixin
    private TrainingOptions options;

    @Mixin
    private DeviceOptions engine;

    @Spec
    private CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Device device = engine.device();
        if (options.resume == null && config == null) {
            throw new IllegalArgumentException("--config is required (or --resume DIR)");
        }
        TrainingRun.Start start = new TrainingRun.Start() {
            @Override
            public XLstmConfig config() throws IOException {
                TrainingRun.requireFile(config, "--config");
                return XLstmConfig.read(config);
            }

            @Override
            public Path tokenizer() {
                TrainingRun.requireFile(tokenizer, "--tokenizer");
                return tokenizer;
            }

            @Override
            public TrainingSession session(TrainingSettings settings, Path out, Device d) throws IOException {
                return TrainingSession.fresh(config(), settings, out, d);
            }
        };
        return new TrainingRun(options, spec).run(start, device, 1000, 1e-3f, config, tokenizer);
    }
}
