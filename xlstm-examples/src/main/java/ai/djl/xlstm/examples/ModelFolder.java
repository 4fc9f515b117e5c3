package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.zoo.HuggingFaceTextCodec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model folder opened for generation: a checkpoint from {@code xlstm train} or an upstream
 * folder, with its {@code tokenizer.json} (or one given explicitly), on a given device or the
 * engine's default. Every command loads its model here.
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
     * Opens {@code dir} with its tokenizer.
     *
     * @param tokenizer the tokenizer.json, or null for {@code dir/tokenizer.json}
     * @param device where the model lives, or null for the engine's default device
     * @throws IllegalArgumentException if the folder, its config or its tokenizer is missing
     */
    static ModelFolder open(Path dir, Path tokenizer, Device device) throws IOException {
        requireFolder(dir);
        Path tok = tokenizer != null ? tokenizer : dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tok)) {
            throw new IllegalArgumentException(tokenizer != null ? "--tokenizer: file not found: " + tok
                    : "no tokenizer.json in " + dir + ": pass --tokenizer FILE");
        }
        HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(tok);
        try {
            return load(dir, codec, device);
        } catch (IOException | RuntimeException e) {
            codec.close();
            throw e;
        }
    }

    /**
     * Opens {@code dir} without a tokenizer: its generator works on token ids only.
     *
     * @param device where the model lives, or null for the engine's default device
     * @throws IllegalArgumentException if the folder or its config is missing
     */
    static ModelFolder openWithoutTokenizer(Path dir, Device device) throws IOException {
        requireFolder(dir);
        return load(dir, null, device);
    }

    private static void requireFolder(Path dir) {
        if (dir == null || !Files.isDirectory(dir)) {
            throw new IllegalArgumentException("--model-path: not a folder: " + dir);
        }
    }

    private static ModelFolder load(Path dir, HuggingFaceTextCodec codec, Device device) throws IOException {
        NDManager manager = device == null ? NDManager.newBaseManager() : NDManager.newBaseManager(device);
        try {
            return new ModelFolder(manager, codec, UpstreamCheckpoint.load(dir, manager));
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    Generator generator() {
        return generator;
    }

    XLstmLanguageModel model() {
        return model;
    }

    /** The manager the model and its sessions live in (on the model's device). */
    NDManager manager() {
        return manager;
    }

    /** The tokenizer, or null if opened without one. */
    HuggingFaceTextCodec codec() {
        return codec;
    }

    /** The tokenizer's end-of-text id, or null (also without a tokenizer). */
    Long endOfText() {
        return codec != null && codec.endOfText().isPresent() ? codec.endOfText().getAsLong() : null;
    }

    @Override
    public void close() {
        manager.close();
        if (codec != null) {
            codec.close();
        }
    }
}
