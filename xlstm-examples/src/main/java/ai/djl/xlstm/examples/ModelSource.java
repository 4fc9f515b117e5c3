package ai.djl.xlstm.examples;

import ai.djl.xlstm.io.UpstreamCheckpoint;

import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Which model a command loads: {@code --model NAME} from the xLSTM zoo (the default: {@value
 * #DEFAULT_MODEL}) or {@code --model-path DIR}, a folder (a run of {@code xlstm train}, a saved
 * checkpoint, or any upstream or Hugging Face checkpoint). Both load through DJL's {@code
 * Criteria}.
 */
final class ModelSource {

    /** The zoo model a command uses when given neither option. */
    static final String DEFAULT_MODEL = "xlstm-austen-small";

    @Option(names = "--model", paramLabel = "NAME",
            description = "a model of the xLSTM zoo (default: " + DEFAULT_MODEL + ")")
    String name;

    @Option(names = "--model-path", paramLabel = "DIR",
            description = "a model folder: a run of xlstm train, a checkpoint, or an upstream/Hugging Face checkpoint")
    Path path;

    /** The folder {@code dir}, as {@code --model-path dir} gives it. */
    static ModelSource folder(Path dir) {
        ModelSource s = new ModelSource();
        s.path = dir;
        return s;
    }

    /** The zoo name to load, or null when a folder is given. */
    String zooName() {
        check();
        return path != null ? null : name != null ? name : DEFAULT_MODEL;
    }

    /**
     * The checkpoint folder on disk: the zoo model's folder in the DJL cache (copied or downloaded
     * there first), or the given folder, a run's folder meaning its newest checkpoint.
     */
    Path checkpointFolder() throws IOException {
        String zoo = zooName();
        return UpstreamCheckpoint.resolveFolder(zoo != null ? ModelFolder.zooFolder(zoo) : path);
    }

    /**
     * The file {@code name} of the checkpoint folder {@code checkpoint}, else of the folder given
     * with {@code --model-path} (a training run keeps its tokenizer beside its checkpoints).
     */
    Path besideCheckpoint(Path checkpoint, String name) {
        Path inCheckpoint = checkpoint.resolve(name);
        return Files.isRegularFile(inCheckpoint) || path == null ? inCheckpoint : path.resolve(name);
    }

    /** What the user asked for, for messages. */
    String describe() {
        return path != null ? path.toString() : zooName();
    }

    private void check() {
        if (name != null && path != null) {
            throw new IllegalArgumentException("give --model NAME or --model-path DIR, not both");
        }
        if (path != null && !Files.isDirectory(path)) {
            throw new IllegalArgumentException("--model-path: not a folder: " + path);
        }
    }
}
