package ai.djl.xlstm.io;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.xlstm.config.SLstmLayerConfig;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.config.XLstmLmConfig;
import ai.djl.xlstm.internal.ConfigMaps;
import ai.djl.xlstm.internal.WeightTypes;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Imports an upstream checkpoint folder: the config ({@code config.json}, or {@code config.yaml}
 * for xLSTM Large) and the weights ({@code model.safetensors}, {@code model_N.safetensors} shards,
 * or a Hugging Face {@code model.safetensors.index.json} with its shards).
 *
 * <p>Accepted names: NeurIPS {@code xLSTMLMModel}, {@code xlstm_large} and Hugging Face ({@code
 * backbone.embeddings.weight}, {@code query}/{@code key}/{@code value}). xLSTM Large's fused
 * projections ({@code weight_mode: fused}) are split, and an sLSTM recurrent kernel and bias saved
 * by the vanilla backend are converted to the CUDA layout our cell uses ({@link ImportOptions}: how
 * a checkpoint's files store the weights, declared by its config or given by the caller). F16 and
 * BF16 weights arrive as float32 (see {@link SafeTensors}), or, with {@link #load(Path, NDManager,
 * ImportOptions, DataType)}, any weights as float16, streamed tensor by tensor. A config with {@code tie_weights: true}
 * uses the embedding as the LM head: a checkpoint {@code lm_head.weight} is accepted (and dropped)
 * only where it equals the embedding, as in upstream's {@code state_dict} of a tied model; one that
 * differs is refused, naming the file, the tensor and the config.
 *
 * <p>Nothing is allocated before it is checked: the config's values are bounded when it is read,
 * and before the model's parameters are allocated the checkpoint's safetensors headers (no tensor
 * data) are compared with what the config implies, and the parameter memory with the machine's
 * ({@link #checkBeforeAllocating}).
 */
public final class UpstreamCheckpoint {

    private static final Pattern BLOCK_INDEX = Pattern.compile("(\\d{1,9})\\..*");

    /**
     * The file of a training run's folder that names its newest complete checkpoint (a subfolder);
     * it is replaced atomically once that checkpoint is fully written.
     */
    public static final String LATEST = "latest";

    private UpstreamCheckpoint() {}

    /**
     * The checkpoint folder that {@code dir} stands for: the checkpoint its {@value #LATEST} file
     * names when {@code dir} is a training run's folder, otherwise {@code dir} itself. Every loader
     * of this project goes through it, so a run's folder loads as its newest checkpoint.
     *
     * @param dir a checkpoint folder or a training run's folder
     * @return the checkpoint folder: {@code dir}, or the subfolder its {@value #LATEST} file names
     * @throws IOException if the {@value #LATEST} file exists but cannot be read
     * @throws IllegalArgumentException if {@value #LATEST} names a folder that does not exist, or
     *     one outside {@code dir}
     */
    public static Path resolveFolder(Path dir) throws IOException {
        Path latest = dir.resolve(LATEST);
        if (!Files.isRegularFile(latest)) {
            return dir;
        }
        String name = Files.readString(latest, StandardCharsets.UTF_8).trim();
        Path checkpoint = dir.resolve(name).normalize();
        Path parent = checkpoint.toAbsolutePath().getParent();
        if (name.isEmpty() || parent == null || !parent.equals(dir.toAbsolutePath().normalize())
                || !Files.isDirectory(checkpoint)) {
            throw new IllegalArgumentException(latest + " names '" + name + "', which is not a checkpoint folder of " + dir);
        }
        return checkpoint;
    }

    /**
     * Reads the config and weights of {@code dir} into a new, initialized model whose parameters
     * live in {@code manager}; the storage options are those the config file declares ({@link
     * ImportOptions#declaredBy}).
     *
     * @param dir a checkpoint folder (config file and safetensors weights, one file or shards) or a
     *     training run's folder, which loads as its newest checkpoint ({@link #resolveFolder})
     * @param manager the manager that owns the model's parameters; closing it frees them
     * @return the model, its weights float32 whatever precision the files store
     * @throws IOException if a file cannot be read
     * @throws IllegalArgumentException if the config or a tensor is invalid, or the checkpoint does
     *     not match the config (checked before the model is allocated); the message names the file
     *     and what differs
     */
    public static XLstmLanguageModel load(Path dir, NDManager manager) throws IOException {
        return load(dir, manager, null);
    }

    /**
     * As {@link #load(Path, NDManager)}, with the storage options given ({@code null}: those the
     * config file declares).
     *
     * @param folder a checkpoint folder or a training run's folder ({@link #resolveFolder})
     * @param manager the manager that owns the model's parameters; closing it frees them
     * @param options how the checkpoint's files store the weights; {@code null} for those its config
     *     file declares
     * @return the model, its weights float32
     * @throws IOException if a file cannot be read
     * @throws IllegalArgumentException if the config or a tensor is invalid, or the checkpoint does
     *     not match the config or the options; the message names the file and what differs
     */
    public static XLstmLanguageModel load(Path folder, NDManager manager, ImportOptions options) throws IOException {
        return load(folder, manager, options, DataType.FLOAT32);
    }

    /**
     * As {@link #load(Path, NDManager, ImportOptions)}, with the weights stored in {@code weightType}
     * (see {@link XLstmLanguageModel#castWeights}). For {@link DataType#FLOAT16} the checkpoint is
     * streamed tensor by tensor: each tensor, whatever its stored type (F32, F16 or BF16), is converted
     * to float16 in Java and copied into its parameter before the next one is read, so loading needs
     * the float16 model plus about one tensor, never a float32 copy of the model. BF16 values convert
     * exactly for magnitudes from 2^-14 to 65504; a value beyond 65504 is refused, naming the tensor.
     *
     * @param folder a checkpoint folder or a training run's folder ({@link #resolveFolder})
     * @param manager the manager that owns the model's parameters; closing it frees them
     * @param options how the checkpoint's files store the weights; {@code null} for those its config
     *     file declares
     * @param weightType {@link DataType#FLOAT32} or {@link DataType#FLOAT16}
     * @return the model, its weights of {@code weightType}
     * @throws IOException if a file cannot be read
     * @throws IllegalArgumentException for another weight type (bfloat16 included: DJL's PyTorch
     *     engine aborts on it), or as {@link #load(Path, NDManager, ImportOptions)}
     */
    public static XLstmLanguageModel load(Path folder, NDManager manager, ImportOptions options, DataType weightType)
            throws IOException {
        WeightTypes.require(weightType, "weight type");
        Path dir = resolveFolder(folder);
        Path configFile = ConfigMaps.configFile(dir);
        XLstmConfig config = XLstmConfig.read(configFile);
        ImportOptions storage = options != null ? options : ImportOptions.declaredBy(configFile);
        checkBeforeAllocating(config, SafeTensors.readCheckpointHeader(dir), dir.toString(), physicalMemoryBytes(),
                weightType);
        XLstmLanguageModel model = XLstmLanguageModel.create(config);
        if (weightType != DataType.FLOAT32) {
            initializeToBeOverwritten(model, manager, weightType);
            streamWeights(model, dir, configFile, storage, weightType);
            return model;
        }
        initializeToBeOverwritten(model, manager, DataType.FLOAT32);
        try (NDManager scratch = manager.newSubManager()) {
            Map<String, NDArray> tensors = SafeTensors.loadCheckpoint(dir, scratch);
            for (String head : tiedHeads(config, tensors.keySet())) {
                requireTiedHeadIsTheEmbedding(head, tensors, config, SafeTensors.fileHolding(dir, head) + ": ",
                        configFile.toString());
            }
            loadWeights(model, tensors, storage, dir.toString());
        }
        return model;
    }

    /**
     * Allocates the model's parameters as zeros, since the checkpoint overwrites every one: drawing
     * the random initial values took ~30 s for the 1.2B parameters of the 7B slice, longer than
     * reading its file. The parameters keep their initializers for a later {@code initialize}.
     */
    private static void initializeToBeOverwritten(XLstmLanguageModel model, NDManager manager, DataType type) {
        Map<Parameter, ai.djl.training.initializer.Initializer> initializers = new java.util.IdentityHashMap<>();
        for (Parameter p : model.getParameters().values()) {
            initializers.put(p, p.getInitializer());
            p.setInitializer(ai.djl.training.initializer.Initializer.ZEROS);
        }
        try {
            model.initialize(manager, type, new Shape(1, 1));
        } finally {
            initializers.forEach(Parameter::setInitializer);
        }
    }

    /**
     * The files of a model folder beside its config and weights that the text translators read:
     * the tokenizer and the generation defaults. {@link #save(Model, Path)} copies them.
     */
    public static final List<String> TEXT_FILES = List.of("tokenizer.json", "generation_config.json");

    /**
     * Saves a complete, reloadable model folder in one call: the weights and config as {@link
     * #save(XLstmLanguageModel, Path)} writes them, {@code serving.properties}, and the {@link
     * #TEXT_FILES} ({@code tokenizer.json}, {@code generation_config.json}) of the folder the model
     * was loaded from ({@link Model#getModelPath()}; for a training run's folder, the run's own
     * files, else those of its newest checkpoint). The folder reloads with {@code
     * Criteria.optModelPath(dir)}: token ids to logits with nothing else, text with our translator
     * factory.
     *
     * <p>This is the save of a DJL {@link Model} holding an xLSTM language model, e.g. a {@code
     * ZooModel} after training: DJL's own {@code model.save(dir, name)} writes a {@code .params}
     * file that no loader of a model folder reads, and refuses (see {@link
     * XLstmLanguageModel#saveParameters}). A model made in memory (no folder) gets no tokenizer or
     * generation defaults: copy a {@code tokenizer.json} beside the weights for text.
     *
     * @param model a model whose block is an {@link XLstmLanguageModel}
     * @param dir the folder to write (created if missing; files of the same names are replaced)
     * @throws IllegalArgumentException if the model's block is not an xLSTM language model
     * @throws IOException if a file cannot be read or written
     */
    public static void save(Model model, Path dir) throws IOException {
        if (!(model.getBlock() instanceof XLstmLanguageModel lm)) {
            throw new IllegalArgumentException("UpstreamCheckpoint.save(Model, Path) saves xLSTM language models; the"
                    + " model " + model.getName() + " holds " + (model.getBlock() == null ? "no block"
                            : "a " + model.getBlock().getClass().getName()));
        }
        save(lm, dir);
        Path source = model.getModelPath();
        if (source == null) {
            return;
        }
        for (String name : TEXT_FILES) {
            Path file = textFile(source, name);
            if (file != null) {
                Path target = dir.resolve(name);
                if (!Files.exists(target) || !Files.isSameFile(file, target)) {
                    Files.copy(file, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    /**
     * The file {@code name} of a model folder: in the folder itself, else (a training run's folder)
     * in the checkpoint its {@value #LATEST} file names; null when neither has it.
     */
    private static Path textFile(Path folder, String name) throws IOException {
        if (Files.isRegularFile(folder.resolve(name))) {
            return folder.resolve(name);
        }
        Path checkpoint = resolveFolder(folder);
        return Files.isRegularFile(checkpoint.resolve(name)) ? checkpoint.resolve(name) : null;
    }

    /**
     * Writes {@code model} as an upstream-format checkpoint folder: {@code config.json} (upstream
     * field names plus {@code architecture}) and {@code model.safetensors} (upstream parameter
     * names, float32, or F16 for a model with float16 weights), which {@link #load} and upstream's loaders read back. Whatever the model
     * was imported from, the weights are written in the canonical form ({@link
     * ImportOptions#CANONICAL}: CUDA sLSTM layout, single projections) and the config says so.
     *
     * <p>A {@code serving.properties} beside them names the block and translator factories of the
     * {@code xlstm-zoo} module, so that DJL's {@code Criteria.optModelPath(dir)} loads the folder
     * with nothing else (a folder is useful without that module too).
     *
     * @param model the model
     * @param dir the folder to write (created if missing)
     * @throws IOException if a file cannot be written
     */
    public static void save(XLstmLanguageModel model, Path dir) throws IOException {
        save(model, dir, SafeTensors.FloatStorage.AS_IS);
    }

    /**
     * As {@link #save(XLstmLanguageModel, Path)}, storing the weights as {@code storage} says (F16
     * or BF16 halve the file; loading widens them back to float32).
     *
     * @param model the model
     * @param dir the folder to write (created if missing)
     * @param storage how the weights are stored
     * @throws IOException if a file cannot be written
     */
    public static void save(XLstmLanguageModel model, Path dir, SafeTensors.FloatStorage storage) throws IOException {
        Files.createDirectories(dir);
        model.getConfig().write(dir.resolve("config.json"));
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        ParameterNames.of(model).forEach((name, p) -> tensors.put(name, p.getArray()));
        SafeTensors.save(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt",
                "xlstm_slstm_layout", "cuda", "xlstm_weight_mode", "single"), storage);
        Files.writeString(dir.resolve("serving.properties"), SERVING_PROPERTIES, StandardCharsets.UTF_8);
    }

    /** What DJL needs to load a saved folder by path: our factories, and no DJL .params file. */
    static final String SERVING_PROPERTIES = """
            # Written by ai.djl.xlstm.io.UpstreamCheckpoint: load with Criteria.optModelPath(this folder)
            engine=PyTorch
            blockFactory=ai.djl.xlstm.zoo.XLstmBlockFactory
            translatorFactory=ai.djl.xlstm.zoo.XLstmTranslatorFactory
            option.hasParameter=false
            """;

    /**
     * Copies upstream tensors, stored as {@code storage} says, into an initialized model: each is
     * converted to the canonical layout and the parameter's type and device, and the parameter gets
     * its own copy. Intermediate arrays belong to the tensors' manager, which the caller closes.
     *
     * @param model an initialized model whose parameters receive the tensors
     * @param tensors the checkpoint's tensors by upstream name (NeurIPS or Hugging Face names)
     * @param storage how the tensors are stored: sLSTM layout and fused or single projections
     * @param source names the source in error messages
     * @throws IllegalArgumentException listing every missing, unexpected or mis-shaped tensor with
     *     its expected and actual shape
     */
    public static void loadWeights(XLstmLanguageModel model, Map<String, NDArray> tensors, ImportOptions storage,
            String source) {
        XLstmConfig config = model.getConfig();
        Map<String, NDArray> canonical;
        try {
            canonical = canonicalize(tensors, config, storage);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("checkpoint " + source + ": " + e.getMessage(), e);
        }
        Map<String, Parameter> params = ParameterNames.of(model);
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            NDArray t = canonical.get(e.getKey());
            Shape expected = e.getValue().getShape();
            if (t == null) {
                problems.add(e.getKey() + ": missing (expected " + expected + ")");
            } else if (!t.getShape().equals(expected)) {
                problems.add(e.getKey() + ": expected " + expected + ", got " + t.getShape());
            } else if (!t.getDataType().isFloating()) {
                problems.add(e.getKey() + ": expected a floating-point tensor, got " + t.getDataType());
            }
        }
        for (Map.Entry<String, NDArray> e : canonical.entrySet()) {
            if (!params.containsKey(e.getKey())) {
                problems.add(e.getKey() + ": unexpected tensor " + e.getValue().getShape());
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(
                    "checkpoint " + source + " does not fit the " + config.architecture() + " model ("
                            + count(problems) + "):\n  " + String.join("\n  ", problems));
        }
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            Parameter p = e.getValue();
            NDArray target = p.getArray();
            // duplicate(): the parameter gets its own contiguous memory, also where canonicalize()
            // produced a view (a transposed layout, a piece of a fused tensor).
            NDArray value = canonical.get(e.getKey())
                    .toType(target.getDataType(), false)
                    .toDevice(target.getDevice(), false)
                    .duplicate();
            target.intern(value);
            if (p.requiresGradient()) {
                target.setRequiresGradient(true);
            }
        }
        model.weightsChanged();
    }

    /**
     * {@link #loadWeights} one checkpoint tensor at a time ({@link SafeTensorsReader#forEachTensor}), as
     * {@code weightType}: a tensor is converted and copied into its parameter before the next is read.
     * The headers were compared with the config before the model was allocated; what still does not
     * fit is listed, as {@link #loadWeights} lists it, once every tensor has been read.
     */
    private static void streamWeights(XLstmLanguageModel model, Path dir, Path configFile, ImportOptions storage,
            DataType weightType) throws IOException {
        XLstmConfig config = model.getConfig();
        List<String> heads = tiedHeads(config, SafeTensors.readCheckpointHeader(dir).keySet());
        if (!heads.isEmpty()) {
            // Compared as float32 values, as the float32 load does: only the head and the embedding.
            try (NDManager scratch = model.getParameters().get(0).getValue().getArray().getManager().newSubManager()) {
                Map<String, NDArray> pair = new LinkedHashMap<>();
                for (String name : SafeTensors.readCheckpointHeader(dir).keySet()) {
                    if (heads.contains(name) || "token_embedding.weight".equals(canonicalName(name, config))) {
                        pair.putAll(SafeTensorsReader.load(SafeTensors.fileHolding(dir, name), scratch, List.of(name)));
                    }
                }
                for (String head : heads) {
                    requireTiedHeadIsTheEmbedding(head, pair, config, SafeTensors.fileHolding(dir, head) + ": ",
                            configFile.toString());
                }
            }
        }
        Map<String, Parameter> params = ParameterNames.of(model);
        java.util.Set<String> loaded = new java.util.HashSet<>();
        List<String> problems = new ArrayList<>();
        NDManager owner = model.getParameters().get(0).getValue().getArray().getManager();
        SafeTensorsReader.forEachTensor(dir, owner, weightType, (name, t) -> {
            Map<String, NDArray> canonical;
            try {
                canonical = canonicalize(Map.of(name, t), config, storage);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("checkpoint " + dir + ": " + e.getMessage(), e);
            }
            for (Map.Entry<String, NDArray> e : canonical.entrySet()) {
                Parameter p = params.get(e.getKey());
                NDArray value = e.getValue();
                if (p == null) {
                    problems.add(e.getKey() + ": unexpected tensor " + value.getShape());
                } else if (!value.getShape().equals(p.getShape())) {
                    problems.add(e.getKey() + ": expected " + p.getShape() + ", got " + value.getShape());
                } else if (!value.getDataType().isFloating()) {
                    problems.add(e.getKey() + ": expected a floating-point tensor, got " + value.getDataType());
                } else {
                    NDArray target = p.getArray();
                    if (value == t && value.getDataType() == target.getDataType()
                            && value.getDevice().equals(target.getDevice())) {
                        target.intern(value); // the reader's own contiguous array: no copy needed
                    } else {
                        target.intern(value.toType(target.getDataType(), false)
                                .toDevice(target.getDevice(), false)
                                .duplicate());
                    }
                    loaded.add(e.getKey());
                }
            }
        });
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            if (!loaded.contains(e.getKey())) {
                problems.add(e.getKey() + ": missing (expected " + e.getValue().getShape() + ")");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(
                    "checkpoint " + dir + " does not fit the " + config.architecture() + " model ("
                            + count(problems) + "):\n  " + String.join("\n  ", problems));
        }
    }

    /** Renames aliases to our (upstream NeurIPS / xlstm_large) names and converts layouts. */
    static Map<String, NDArray> canonicalize(Map<String, NDArray> tensors, XLstmConfig config, ImportOptions storage) {
        for (String head : tiedHeads(config, tensors.keySet())) {
            requireTiedHeadIsTheEmbedding(head, tensors, config, "", "the config");
        }
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            String name = canonicalName(e.getKey(), config);
            if (name == null) {
                continue;
            }
            NDArray t = e.getValue();
            if (config instanceof XLstmLargeConfig large) {
                if (storage.weightMode() == ImportOptions.WeightMode.FUSED && splitFused(name, t, large, out)) {
                    continue;
                }
            } else if (config instanceof XLstmLmConfig lm && lm.slstm() != null) {
                requireDeclaredLayout(name, t, lm.slstm(), storage.slstmLayout());
                if (storage.slstmLayout() == ImportOptions.SLstmLayout.VANILLA) {
                    t = vanillaToCudaLayout(name, t, lm.slstm());
                }
            }
            out.put(name, t);
        }
        return out;
    }

    /**
     * Our (upstream NeurIPS / xlstm_large) name of a checkpoint tensor, or null for a tensor that
     * is none of our parameters: the LM head of a tied model, which is the embedding itself (its
     * values are checked against the embedding's first, {@code requireTiedHeadIsTheEmbedding}).
     */
    static String canonicalName(String name, XLstmConfig config) {
        if (name.startsWith("_orig_mod.")) { // torch.compile wrapper
            name = name.substring("_orig_mod.".length());
        }
        if (config instanceof XLstmLargeConfig) {
            return largeAlias(name);
        }
        if (config instanceof XLstmLmConfig lm && lm.tieWeights() && name.equals("lm_head.weight")) {
            return null;
        }
        return name;
    }

    /**
     * The names of the checkpoint tensors that a tied model's config drops as its LM head ({@code
     * lm_head.weight}, with or without torch.compile's prefix): empty unless the config says {@code
     * tie_weights: true}.
     */
    private static List<String> tiedHeads(XLstmConfig config, Collection<String> names) {
        if (!(config instanceof XLstmLmConfig lm) || !lm.tieWeights()) {
            return List.of();
        }
        return names.stream().filter(n -> canonicalName(n, config) == null).toList();
    }

    /**
     * Refuses a checkpoint's own LM head under a config that ties the head to the embedding, unless
     * it holds the embedding's values: upstream's {@code state_dict} of a tied model lists the shared
     * tensor under both names, so an equal {@code lm_head.weight} is that copy and loads (it is
     * dropped, the embedding is the head), while one that differs, in shape or in any element
     * (compared as the float32 values the model would load; NaN equals NaN), is a head the
     * checkpoint was trained with, and dropping it would load another model.
     *
     * @param head the tensor's name in the checkpoint
     * @param where the file that holds it, as a message prefix ({@code "<file>: "}), or empty
     * @param configSource names the config in the message
     */
    private static void requireTiedHeadIsTheEmbedding(String head, Map<String, NDArray> tensors, XLstmConfig config,
            String where, String configSource) {
        NDArray embedding = null;
        String embeddingName = "token_embedding.weight";
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            if (embeddingName.equals(canonicalName(e.getKey(), config))) {
                embedding = e.getValue();
            }
        }
        if (embedding == null) {
            return; // loadWeights names the missing embedding
        }
        NDArray value = tensors.get(head);
        String difference;
        try (NDScope scope = new NDScope()) {
            difference = difference(value.toType(DataType.FLOAT32, false), embedding.toType(DataType.FLOAT32, false));
        }
        if (difference != null) {
            throw new IllegalArgumentException(where + "tensor '" + head + "' " + value.getShape() + " is not the"
                    + " embedding " + embeddingName + " " + embedding.getShape() + " (" + difference + "), but "
                    + configSource + " says tie_weights: true, which makes the embedding the LM head and would drop"
                    + " this tensor: the checkpoint was trained with a head of its own; set tie_weights to false");
        }
    }

    /** How {@code a} differs from {@code b} (both float32), or null where every element is equal. */
    private static String difference(NDArray a, NDArray b) {
        if (!a.getShape().equals(b.getShape())) {
            return "another shape";
        }
        NDArray differs = a.eq(b).logicalOr(a.isNaN().logicalAnd(b.isNaN())).logicalNot(); // [V, D]
        long count = differs.toType(DataType.INT64, false).sum().getLong();
        if (count == 0) {
            return null;
        }
        long first = differs.toType(DataType.INT32, false).flatten().argMax().getLong();
        long[] at = new long[a.getShape().dimension()];
        long rest = first;
        for (int d = at.length - 1; d >= 0; d--) {
            at[d] = rest % a.getShape().get(d);
            rest /= a.getShape().get(d);
        }
        return String.format(Locale.ROOT, "%d of %d elements differ; the first at %s: %s vs %s", count,
                a.getShape().size(), Arrays.toString(at), a.flatten().getFloat(first), b.flatten().getFloat(first));
    }

    private static String largeAlias(String name) {
        if (name.equals("backbone.embeddings.weight")) {
            return "embedding.weight";
        }
        return name.replace(".mlstm_layer.query.", ".mlstm_layer.q.")
                .replace(".mlstm_layer.key.", ".mlstm_layer.k.")
                .replace(".mlstm_layer.value.", ".mlstm_layer.v.");
    }

    /** Splits xLSTM Large's fused projections; returns whether {@code name} was one. */
    private static boolean splitFused(
            String name, NDArray t, XLstmLargeConfig c, Map<String, NDArray> out) {
        String[] parts;
        long[] sizes;
        if (name.contains(".mlstm_layer.qkv_opreact.")) {
            parts = new String[] {"q", "k", "v", "ogate_preact"};
            sizes = new long[] {c.qkDim(), c.qkDim(), c.vDim(), c.vDim()};
        } else if (name.contains(".mlstm_layer.ifgate_preact.")) {
            parts = new String[] {"igate_preact", "fgate_preact"};
            sizes = new long[] {c.numHeads(), c.numHeads()};
        } else if (name.contains(".ffn.proj_up_gate_z.")) {
            parts = new String[] {"proj_up_gate", "proj_up"};
            sizes = new long[] {c.ffnUpDim(), c.ffnUpDim()};
        } else {
            return false;
        }
        String fused = name.contains("qkv_opreact") ? "qkv_opreact" : name.contains("ifgate_preact") ? "ifgate_preact" : "proj_up_gate_z";
        long total = 0;
        long[] cuts = new long[sizes.length - 1];
        for (int i = 0; i < sizes.length; i++) {
            total += sizes[i];
            if (i < cuts.length) {
                cuts[i] = total;
            }
        }
        if (t.getShape().get(0) != total) {
            throw new IllegalArgumentException(
                    name + ": fused tensor expected " + total + " rows, got shape " + t.getShape());
        }
        NDList pieces = t.split(cuts, 0);
        for (int i = 0; i < parts.length; i++) {
            out.put(name.replace("." + fused + ".", "." + parts[i] + "."), pieces.get(i));
        }
        return true;
    }

    /**
     * Refuses an sLSTM recurrent kernel whose shape is that of the other layout than the one declared
     * (the two differ: {@code [NH, DH, 4 * DH]} and {@code [NH, 4 * DH, DH]}). The bias has the same
     * shape in both, so without this check a kernel left as it is beside a reordered bias loads as a
     * different model.
     */
    private static void requireDeclaredLayout(String name, NDArray t, SLstmLayerConfig slstm,
            ImportOptions.SLstmLayout declared) {
        if (!name.endsWith("slstm_cell._recurrent_kernel_")) {
            return;
        }
        long nh = slstm.numHeads();
        long dh = slstm.headDim();
        Shape cuda = new Shape(nh, dh, 4 * dh);
        Shape vanilla = new Shape(nh, 4 * dh, dh);
        ImportOptions.SLstmLayout found = t.getShape().equals(cuda) ? ImportOptions.SLstmLayout.CUDA
                : t.getShape().equals(vanilla) ? ImportOptions.SLstmLayout.VANILLA : null;
        if (found != null && found != declared) {
            String layout = found.name().toLowerCase(Locale.ROOT);
            throw new IllegalArgumentException(name + " has shape " + t.getShape() + ", the " + layout + " sLSTM layout"
                    + " ([NH, DH, 4 * DH] = " + cuda + " is cuda, [NH, 4 * DH, DH] = " + vanilla + " is vanilla), but"
                    + " the checkpoint is declared " + declared.name().toLowerCase(Locale.ROOT) + " (the config's"
                    + " slstm_backend_layout or sLSTM backend, or the import options given): set slstm_backend_layout"
                    + " to \"" + layout + "\"");
        }
    }

    /**
     * The vanilla sLSTM backend stores {@code _recurrent_kernel_} as {@code [NH, 4 * DH, DH]}
     * ({@code [h, g * DH + out, in]}) and {@code _bias_} in (gate, head, dim) order; our cell uses
     * the CUDA layout {@code [NH, DH, 4 * DH]} and (head, gate, dim).
     */
    private static NDArray vanillaToCudaLayout(String name, NDArray t, SLstmLayerConfig slstm) {
        if (slstm == null) {
            return t;
        }
        long nh = slstm.numHeads();
        long dh = slstm.headDim();
        if (name.endsWith("slstm_cell._recurrent_kernel_") && t.getShape().equals(new Shape(nh, 4 * dh, dh))) {
            return t.transpose(0, 2, 1);
        }
        if (name.endsWith("slstm_cell._bias_") && t.getShape().equals(new Shape(4 * nh * dh))) {
            return t.reshape(4, nh, dh).transpose(1, 0, 2).reshape(-1);
        }
        return t;
    }

    /**
     * Compares a checkpoint's header entries with what {@code config} implies and the parameter
     * memory with {@code memoryBytes}, before anything is allocated: the embedding's shape {@code
     * [vocab_size, embedding_dim]} (under any accepted alias), the blocks present ({@code
     * num_blocks}), the total number of elements ({@link XLstmConfig#parameterCount}; a tied LM head
     * that the checkpoint includes is not counted, and a fused projection holds as many elements as
     * its parts) and whether the float32 parameters fit in memory.
     *
     * <p>A mismatched or missing embedding, a block count that differs, or parameters that cannot
     * fit stop the import here, in one exception that lists every finding, a total that differs
     * included. A total that differs alone does not stop it: the memory has been found to suffice,
     * and {@link #loadWeights}, after the allocation, names every missing, unexpected or mis-shaped
     * tensor, which a total cannot.
     *
     * @param header the checkpoint's tensors by name (from the safetensors headers)
     * @param source names the checkpoint in the error message
     * @param memoryBytes the memory available to the parameters; not positive when unknown (no
     *     memory check)
     * @throws IllegalArgumentException listing every finding, each with the config's value and
     *     the checkpoint's, naming the tensor
     */
    static void checkBeforeAllocating(
            XLstmConfig config, Map<String, SafeTensors.TensorInfo> header, String source, long memoryBytes) {
        checkBeforeAllocating(config, header, source, memoryBytes, DataType.FLOAT32);
    }

    /** As {@link #checkBeforeAllocating(XLstmConfig, Map, String, long)}, for weights of {@code weightType}. */
    static void checkBeforeAllocating(XLstmConfig config, Map<String, SafeTensors.TensorInfo> header, String source,
            long memoryBytes, DataType weightType) {
        boolean neurips = config instanceof XLstmLmConfig;
        String embeddingName = neurips ? "token_embedding.weight" : "embedding.weight";
        String blockPrefix = neurips ? "xlstm_block_stack.blocks." : "backbone.blocks.";
        SafeTensors.TensorInfo embedding = null;
        SortedSet<Integer> blocks = new TreeSet<>();
        long elements = 0;
        for (SafeTensors.TensorInfo t : header.values()) {
            String name = canonicalName(t.name(), config);
            if (name == null) {
                continue;
            }
            elements += elementCount(t.shape());
            if (name.equals(embeddingName)) {
                embedding = t;
            } else if (name.startsWith(blockPrefix)) {
                Matcher m = BLOCK_INDEX.matcher(name.substring(blockPrefix.length()));
                if (m.matches()) {
                    blocks.add(Integer.parseInt(m.group(1)));
                }
            }
        }
        List<String> problems = new ArrayList<>();
        long vocab = config.vocabSize();
        long dim = config.embeddingDim();
        if (embedding == null) {
            problems.add(embeddingName + ": missing (the config implies [vocab_size, embedding_dim] = ["
                    + vocab + ", " + dim + "])");
        } else {
            long[] shape = embedding.shape();
            if (shape.length != 2) {
                problems.add(embedding.name() + ": the config implies [vocab_size, embedding_dim] = [" + vocab + ", "
                        + dim + "], the checkpoint has " + Arrays.toString(shape));
            } else {
                if (shape[0] != vocab) {
                    problems.add("vocab_size: config " + vocab + ", checkpoint " + shape[0] + " (rows of "
                            + embedding.name() + " " + Arrays.toString(shape) + ")");
                }
                if (shape[1] != dim) {
                    problems.add("embedding_dim: config " + dim + ", checkpoint " + shape[1] + " (columns of "
                            + embedding.name() + " " + Arrays.toString(shape) + ")");
                }
            }
        }
        int numBlocks = config.numBlocks();
        if (blocks.size() != numBlocks || (!blocks.isEmpty() && blocks.last() != numBlocks - 1)) {
            problems.add("num_blocks: config " + numBlocks + ", checkpoint has " + blocks.size() + " blocks ("
                    + blockPrefix + "N for N in " + describe(blocks) + ")");
        }
        long expected = config.parameterCount();
        long bytes = Math.multiplyExact(expected, (long) weightType.getNumOfBytes());
        if (memoryBytes > 0 && bytes > memoryBytes) {
            problems.add(String.format(Locale.ROOT,
                    "memory: the config's %,d parameters need %.2f GB (%,d bytes) as %s, more than the"
                            + " %.2f GB (%,d bytes) of physical memory",
                    expected, bytes / 1e9, bytes, weightType, memoryBytes / 1e9, memoryBytes));
        }
        if (problems.isEmpty()) {
            return; // a total that differs alone: loadWeights names the tensors (see above)
        }
        if (elements != expected) {
            problems.add(String.format(Locale.ROOT,
                    "parameter elements: config implies %,d, checkpoint holds %,d", expected, elements));
        }
        throw new IllegalArgumentException(
                "checkpoint " + source + " cannot be loaded as the " + config.architecture() + " model its config"
                        + " describes (" + count(problems) + ", found from the config and the safetensors"
                        + " headers before allocating the model):\n  " + String.join("\n  ", problems));
    }

    private static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** {@code [0, 1, 2]}, or its ends when long: {@code [0, 1, 2, ..., 1023, 1024]}. */
    private static String describe(SortedSet<Integer> indices) {
        if (indices.size() <= 8) {
            return indices.toString();
        }
        List<Integer> all = new ArrayList<>(indices);
        int n = all.size();
        return "[" + all.get(0) + ", " + all.get(1) + ", " + all.get(2) + ", ..., " + all.get(n - 2) + ", "
                + all.get(n - 1) + "]";
    }

    /**
     * The physical memory of the machine (or of its container), or -1 when the JVM does not tell
     * it.
     */
    static long physicalMemoryBytes() {
        try {
            OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
            if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
                long total = sun.getTotalMemorySize();
                return total > 0 ? total : -1;
            }
        } catch (RuntimeException | LinkageError e) {
            // no com.sun.management on this JVM: no memory check
        }
        return -1;
    }

    /** "1 problem", "3 problems". */
    private static String count(List<String> problems) {
        return problems.size() + (problems.size() == 1 ? " problem" : " problems");
    }
}
