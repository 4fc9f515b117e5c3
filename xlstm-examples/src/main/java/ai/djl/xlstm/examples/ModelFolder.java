package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.Artifact;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelLoader;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ModelZoo;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.util.ProgressBar;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.zoo.HuggingFaceTextCodec;
import ai.djl.xlstm.zoo.XLstmBlockFactory;
import ai.djl.xlstm.zoo.XLstmModelZoo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model opened for generation through DJL's {@code Criteria} (by zoo name or by folder, see
 * {@link ModelSource}), with its {@code tokenizer.json} (or one given explicitly), on a given device
 * or the engine's default. Every command loads its model here.
 */
final class ModelFolder implements AutoCloseable {

    private final ZooModel<NDList, NDList> zooModel;
    private final HuggingFaceTextCodec codec;
    private final XLstmLanguageModel model;
    private final Generator generator;

    private ModelFolder(ZooModel<NDList, NDList> zooModel, HuggingFaceTextCodec codec) {
        this.zooModel = zooModel;
        this.codec = codec;
        this.model = (XLstmLanguageModel) zooModel.getBlock();
        this.generator = new Generator(model, zooModel.getNDManager(), codec);
    }

    /**
     * Opens the model with its tokenizer.
     *
     * @param tokenizer the tokenizer.json, or null for the model folder's
     * @param device where the model lives, or null for the engine's default device
     * @throws IllegalArgumentException if the model, its config or its tokenizer is missing
     */
    static ModelFolder open(ModelSource source, Path tokenizer, Device device) throws IOException {
        return open(source, tokenizer, device, null);
    }

    /**
     * Opens the model with its tokenizer, its weights stored as {@code weights} says.
     *
     * @param tokenizer the tokenizer.json, or null for the model folder's
     * @param device where the model lives, or null for the engine's default device
     * @param weights the {@link XLstmBlockFactory#WEIGHTS_ARGUMENT} ({@code float32} or {@code
     *     float16}), or null for float32
     * @throws IllegalArgumentException if the model, its config or its tokenizer is missing, or the
     *     weight type is not supported
     */
    static ModelFolder open(ModelSource source, Path tokenizer, Device device, String weights) throws IOException {
        if (tokenizer != null && !Files.isRegularFile(tokenizer)) {
            throw new IllegalArgumentException("--tokenizer: file not found: " + tokenizer);
        }
        ZooModel<NDList, NDList> zooModel = load(source, device, weights);
        try {
            Path tok = tokenizer != null ? tokenizer : zooModel.getModelPath().resolve("tokenizer.json");
            if (!Files.isRegularFile(tok)) {
                throw new IllegalArgumentException("no tokenizer.json in " + source.describe() + ": pass --tokenizer FILE");
            }
            return new ModelFolder(zooModel, HuggingFaceTextCodec.load(tok));
        } catch (IOException | RuntimeException e) {
            zooModel.close();
            throw e;
        }
    }

    /**
     * Opens the model without a tokenizer: its generator works on token ids only.
     *
     * @param device where the model lives, or null for the engine's default device
     * @throws IllegalArgumentException if the model or its config is missing
     */
    static ModelFolder openWithoutTokenizer(ModelSource source, Device device) throws IOException {
        return openWithoutTokenizer(source, device, null);
    }

    /**
     * Opens the model without a tokenizer, its weights stored as {@code weights} says ({@code float32}
     * or {@code float16}; null for float32).
     */
    static ModelFolder openWithoutTokenizer(ModelSource source, Device device, String weights) throws IOException {
        return new ModelFolder(load(source, device, weights), null);
    }

    private static ZooModel<NDList, NDList> load(ModelSource source, Device device, String weights) throws IOException {
        Criteria.Builder<NDList, NDList> criteria = Criteria.builder().setTypes(NDList.class, NDList.class)
                .optDevice(device);
        if (weights != null) {
            criteria.optArgument(XLstmBlockFactory.WEIGHTS_ARGUMENT, weights);
        }
        String name = source.zooName();
        if (name != null) {
            criteria.optGroupId(XLstmModelZoo.GROUP_ID).optArtifactId(name);
        } else {
            criteria.optModelPath(source.path)
                    .optArgument("blockFactory", XLstmBlockFactory.class.getName())
                    .optOption("hasParameter", "false");
        }
        try {
            return criteria.build().loadModel();
        } catch (ModelNotFoundException e) {
            if (name != null) {
                ModelZoo zoo = ModelZoo.getModelZoo(XLstmModelZoo.GROUP_ID);
                throw new IllegalArgumentException("--model " + name + ": no such model; the xLSTM zoo has "
                        + (zoo == null ? "none" : zoo.getModelLoaders().stream().map(l -> l.getArtifactId()).sorted().toList()), e);
            }
            throw new IllegalArgumentException("--model-path " + source.path + ": " + e.getMessage(), e);
        } catch (MalformedModelException e) {
            throw new IllegalArgumentException(source.describe() + ": " + e.getMessage(), e);
        }
    }

    /**
     * The folder of zoo model {@code name} in the DJL cache, copied or downloaded there first if
     * needed (with a progress bar); the weights are not loaded.
     */
    static Path zooFolder(String name) throws IOException {
        ModelZoo zoo = ModelZoo.getModelZoo(XLstmModelZoo.GROUP_ID);
        ModelLoader loader = zoo == null ? null : zoo.getModelLoader(name);
        if (loader == null) {
            throw new IllegalArgumentException("--model " + name + ": no such model; the xLSTM zoo has "
                    + (zoo == null ? "none" : zoo.getModelLoaders().stream().map(ModelLoader::getArtifactId).sorted().toList()));
        }
        try {
            Criteria<NDList, NDList> criteria = Criteria.builder().setTypes(NDList.class, NDList.class)
                    .optGroupId(XLstmModelZoo.GROUP_ID).optArtifactId(name).build();
            loader.downloadModel(criteria, new ProgressBar());
            Artifact artifact = loader.getMrl().match(null);
            return loader.getMrl().getRepository().getResourceDirectory(artifact);
        } catch (ModelNotFoundException e) {
            throw new IllegalArgumentException("--model " + name + ": " + e.getMessage(), e);
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
        return zooModel.getNDManager();
    }

    /** The folder the model was loaded from (for a zoo model: in the DJL cache). */
    Path path() {
        return zooModel.getModelPath();
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
        zooModel.close();
        if (codec != null) {
            codec.close();
        }
    }
}
