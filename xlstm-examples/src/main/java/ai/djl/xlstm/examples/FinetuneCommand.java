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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code xlstm finetune}: continues training a model ({@code --model NAME} from the zoo, or {@code
 * --model-path DIR}) on the user's text with DJL's {@code Trainer}, a fresh optimizer and a
 * gentler default learning rate; progress bar, validation, checkpoints and {@code --resume} as
 * {@code train}. The run's folder loads again with {@code --model-path DIR} and through {@code
 * Criteria.optModelPath(DIR)} alone.
 */
@Command(name = "finetune",
        description = "Fine-tune an xLSTM model on your text.")
final class FinetuneCommand implements Callable<Integer> {

    @Mixin
    private ModelSource source;

    @Mixin
    private TokenizerOption tokenizer;

    @Mixin
    private TrainingOptions options;

    @Mixin
    private DeviceOptions engine;

    @Spec
    private CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Device device = engine.device();
        TrainingRun.Start start = new TrainingRun.Start() {
            private Path folder;

            private Path folder() throws IOException {
                if (folder == null) {
                    folder = source.checkpointFolder();
                }
                return folder;
            }

            @Override
            public XLstmConfig config() throws IOException {
                return XLstmConfig.read(folder());
            }

            @Override
            public Path tokenizer() throws IOException {
                Path tok = tokenizer.path() != null ? tokenizer.path() : source.besideCheckpoint(folder(), "tokenizer.json");
                if (!Files.isRegularFile(tok)) {
                    throw new IllegalArgumentException(tokenizer.path() != null ? "--tokenizer: file not found: " + tok
                            : "no tokenizer.json in " + source.describe() + ": pass --tokenizer FILE");
                }
                return tok;
            }

            @Override
            public TrainingSession session(TrainingSettings settings, Path out, Device d) throws IOException {
                return TrainingSession.fromPretrained(folder(), settings, out, d);
            }
        };
        return new TrainingRun(options, spec).run(start, device, 200, 1e-4f, null,
                options.resume != null ? tokenizer.path() : null);
    }
}
