package ai.djl.xlstm.examples;

import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.zoo.HuggingFaceTextCodec;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model folder opened for generation: a checkpoint from {@code xlstm train} or an upstream
 * folder, with its {@code tokenizer.json} (or one given explicitly), on the default device.
 */
final class ModelFolder implements AutoCloseable {

    private final NDManager manager;
    private final HuggingFaceTextCodec codec;
    private final XLstmLanguageModel model;
    private final Generator generator;

    private ModelFolder(NDManager manager, HuggingFaceTextCodec codec, XLstmLanguageModel model) {
        this.manager = manager;
        this.codec = codec;
        this.model = model;
        this.generator = new Generator(model, manager, codec);
    }

    /**
     * Opens {@code dir}.
     *
     * @param tokenizer the tokenizer.json, or null for {@code dir/tokenizer.json}
     * @throws IllegalArgumentException if the folder, its config or its tokenizer is missing
     */
    static ModelFolder open(Path dir, Path tokenizer) throws IOException {
        if (dir == null || !Files.isDirectory(dir)) {
            throw new IllegalArgumentException("--model-path: not a folder: " + dir);
        }
        Path tok = tokenizer != null ? tokenizer : dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tok)) {
            throw new IllegalArgumentException(tokenizer != null ? "--tokenizer: file not found: " + tok
                    : "no tokenizer.json in " + dir + ": pass --tokenizer FILE");
        }
        HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(tok);
        NDManager manager = NDManager.newBaseManager();
        try {
            return new ModelFolder(manager, codec, UpstreamCheckpoint.load(dir, manager));
        } catch (IOException | RuntimeException e) {
            manager.close();
            codec.close();
            throw e;
        }
    }

    Generator generator() {
        return generator;
    }

    XLstmLanguageModel model() {
        return model;
    }

    HuggingFaceTextCodec codec() {
        return codec;
    }

    /** The tokenizer's end-of-text id, or null. */
    Long endOfText() {
        return codec.endOfText().isPresent() ? codec.endOfText().getAsLong() : null;
    }

    @Override
    public void close() {
        manager.close();
        codec.close();
    }
}
