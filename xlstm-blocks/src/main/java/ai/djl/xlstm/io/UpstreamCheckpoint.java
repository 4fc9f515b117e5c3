package ai.djl.xlstm.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.xlstm.config.ConfigFiles;
import ai.djl.xlstm.config.SLstmLayerConfig;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.config.XLstmLmConfig;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
 * BF16 weights arrive as float32 (see {@link SafeTensors}).
 */
public final class UpstreamCheckpoint {

    private UpstreamCheckpoint() {}

    /**
     * Reads the config and weights of {@code dir} into a new, initialized model whose parameters
     * live in {@code manager}; the storage options are those the config file declares ({@link
     * ImportOptions#declaredBy}).
     */
    public static XLstmLanguageModel load(Path dir, NDManager manager) throws IOException {
        return load(dir, manager, null);
    }

    /**
     * As {@link #load(Path, NDManager)}, with the storage options given ({@code null}: those the
     * config file declares).
     */
    public static XLstmLanguageModel load(Path dir, NDManager manager, ImportOptions options) throws IOException {
        Path configFile = ConfigFiles.configFile(dir);
        XLstmConfig config = ConfigFiles.read(configFile);
        ImportOptions storage = options != null ? options : ImportOptions.declaredBy(ConfigFiles.readMap(configFile));
        XLstmLanguageModel model = XLstmLanguageModel.create(config);
        model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
        try (NDManager scratch = manager.newSubManager()) {
            loadWeights(model, SafeTensors.loadCheckpoint(dir, scratch), storage, dir.toString());
        }
        return model;
    }

    /**
     * Writes {@code model} as an upstream-format checkpoint folder: {@code config.json} (upstream
     * field names plus {@code architecture}) and {@code model.safetensors} (upstream parameter
     * names, float32), which {@link #load} and upstream's loaders read back. Whatever the model
     * was imported from, the weights are written in the canonical form ({@link
     * ImportOptions#CANONICAL}: CUDA sLSTM layout, single projections) and the config says so.
     */
    public static void save(XLstmLanguageModel model, Path dir) throws IOException {
        Files.createDirectories(dir);
        ConfigFiles.write(model.getConfig(), dir.resolve("config.json"));
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        ParameterNames.of(model).forEach((name, p) -> tensors.put(name, p.getArray()));
        SafeTensors.save(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt",
                "xlstm_slstm_layout", "cuda", "xlstm_weight_mode", "single"));
    }

    /**
     * Copies upstream tensors, stored as {@code storage} says, into an initialized model.
     *
     * @param source names the source in error messages
     * @throws IllegalArgumentException listing every missing, unexpected or mis-shaped tensor with
     *     its expected and actual shape
     */
    public static void loadWeights(XLstmLanguageModel model, Map<String, NDArray> tensors, ImportOptions storage,
            String source) {
        XLstmConfig config = model.getConfig();
        Map<String, NDArray> canonical = canonicalize(tensors, config, storage);
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
                            + problems.size() + " problems):\n  " + String.join("\n  ", problems));
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
    }

    /** Renames aliases to our (upstream NeurIPS / xlstm_large) names and converts layouts. */
    static Map<String, NDArray> canonicalize(Map<String, NDArray> tensors, XLstmConfig config, ImportOptions storage) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            String name = e.getKey();
            NDArray t = e.getValue();
            if (name.startsWith("_orig_mod.")) { // torch.compile wrapper
                name = name.substring("_orig_mod.".length());
            }
            if (config instanceof XLstmLargeConfig large) {
                name = largeAlias(name);
                if (storage.weightMode() == ImportOptions.WeightMode.FUSED && splitFused(name, t, large, out)) {
                    continue;
                }
            } else if (config instanceof XLstmLmConfig lm) {
                if (lm.tieWeights() && name.equals("lm_head.weight")) {
                    continue; // the tied head is the embedding itself
                }
                if (storage.slstmLayout() == ImportOptions.SLstmLayout.VANILLA) {
                    t = vanillaToCudaLayout(name, t, lm.slstm());
                }
            }
            out.put(name, t);
        }
        return out;
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
}
