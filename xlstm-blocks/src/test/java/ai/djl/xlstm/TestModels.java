package ai.djl.xlstm;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.io.ParameterNames;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** Tiny models with random weights for tests that need no reference data. */
public final class TestModels {

    private TestModels() {}

    /** A NeurIPS model with sLSTM blocks at {@code slstmAt} among {@code blocks} blocks. */
    public static XLstmConfig neurips(int blocks, List<Integer> slstmAt, int vocab) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", "xlstm-neurips");
        m.put("vocab_size", vocab);
        m.put("embedding_dim", 16);
        m.put("num_blocks", blocks);
        m.put("slstm_at", slstmAt);
        m.put("mlstm", Map.of("num_heads", 2, "conv1d_kernel_size", 4, "qkv_proj_blocksize", 4, "proj_factor", 2.0));
        m.put("slstm", Map.of("num_heads", 2, "conv1d_kernel_size", 4));
        m.put("feedforward", Map.of("proj_factor", 1.3, "act_fn", "gelu"));
        return XLstmConfig.fromMap(m);
    }

    /** A tiny xLSTM Large model. */
    public static XLstmConfig large(int vocab, int chunkSize) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", "xlstm-large");
        m.put("vocab_size", vocab);
        m.put("embedding_dim", 32);
        m.put("num_heads", 2);
        m.put("num_blocks", 2);
        m.put("chunk_size", chunkSize);
        return XLstmConfig.fromMap(m);
    }

    /**
     * Builds and initializes {@code config}'s model, then sets every parameter to {@code
     * N(0, std^2)} noise (so that recurrent kernels, gates and norms are all exercised).
     */
    public static XLstmLanguageModel randomModel(XLstmConfig config, NDManager manager, int seed, float std) {
        Engine.getInstance().setRandomSeed(seed);
        XLstmLanguageModel model = XLstmLanguageModel.create(config);
        model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
        for (Parameter p : ParameterNames.of(model).values()) {
            NDArray noise = manager.randomNormal(0f, std, p.getShape(), DataType.FLOAT32);
            p.getArray().intern(noise);
            p.getArray().setRequiresGradient(true);
        }
        return model;
    }

    /**
     * The central finite difference {@code (L(w + h e_i) - L(w - h e_i)) / 2h} of {@code loss} with
     * respect to entry {@code index} of the parameter array {@code value}, which is restored (and
     * again requires gradients) afterwards.
     */
    public static float finiteDifference(NDArray value, int index, float h, Supplier<Float> loss) {
        float[] original = value.toFloatArray();
        value.setRequiresGradient(false);
        float[] perturbed = original.clone();
        perturbed[index] = original[index] + h;
        value.set(perturbed);
        float up = loss.get();
        perturbed[index] = original[index] - h;
        value.set(perturbed);
        float down = loss.get();
        value.set(original);
        value.setRequiresGradient(true);
        return (up - down) / (2 * h);
    }

    /** Random token ids {@code [batch, len]} in {@code [0, vocab)}. */
    public static NDArray randomTokens(NDManager manager, int batch, int len, int vocab) {
        return manager.randomInteger(0, vocab, new Shape(batch, len), DataType.INT64);
    }

    /**
     * The fields of a small valid NeurIPS config (V = 10, D = 16, sLSTM at 1 of 2 blocks) with
     * {@code override} applied: the base of the config-validation tests.
     */
    public static java.util.Map<String, Object> neuripsFields(java.util.Map<String, Object> override) {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("architecture", "xlstm-neurips");
        m.put("vocab_size", 10);
        m.put("embedding_dim", 16);
        m.put("num_blocks", 2);
        m.put("slstm_at", List.of(1));
        m.put("mlstm", java.util.Map.of("num_heads", 2));
        m.put("slstm", java.util.Map.of("num_heads", 2));
        m.put("feedforward", java.util.Map.of());
        m.putAll(override);
        return m;
    }
}
