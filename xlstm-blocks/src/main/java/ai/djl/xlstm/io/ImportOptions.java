package ai.djl.xlstm.io;

import ai.djl.xlstm.internal.ConfigMaps;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * How the tensors of an upstream checkpoint are stored: facts about one checkpoint's files, not
 * about the model, so they are not part of the model config (nor of its fingerprint). The model
 * always holds, and {@link UpstreamCheckpoint#save} always writes, the canonical form: the CUDA
 * sLSTM layout and single (unfused) projections.
 *
 * @param slstmLayout the layout of the sLSTM recurrent kernel and bias
 * @param weightMode whether xLSTM Large's projections are stored fused
 */
public record ImportOptions(SLstmLayout slstmLayout, WeightMode weightMode) {

    /** The canonical form: what {@link UpstreamCheckpoint#save} writes. */
    public static final ImportOptions CANONICAL = new ImportOptions(SLstmLayout.CUDA, WeightMode.SINGLE);

    /** The layouts of upstream's sLSTM backends. */
    public enum SLstmLayout {
        /** {@code _recurrent_kernel_ [NH, DH, 4 * DH]}, {@code _bias_} in (head, gate, dim) order. */
        CUDA,
        /** {@code _recurrent_kernel_ [NH, 4 * DH, DH]}, {@code _bias_} in (gate, head, dim) order. */
        VANILLA
    }

    /** How xLSTM Large's projections are stored. */
    public enum WeightMode {
        /** Separate q, k, v, output-gate, input/forget-gate and feed-forward projections. */
        SINGLE,
        /** Fused {@code qkv_opreact}, {@code ifgate_preact} and {@code proj_up_gate_z}. */
        FUSED
    }

    /**
     * Validates the options.
     *
     * @param slstmLayout the layout of the sLSTM recurrent kernel and bias
     * @param weightMode whether xLSTM Large's projections are stored fused
     * @throws IllegalArgumentException if either option is null
     */
    public ImportOptions {
        if (slstmLayout == null || weightMode == null) {
            throw new IllegalArgumentException("import options must name an sLSTM layout and a weight mode");
        }
    }

    /**
     * The options an upstream config file declares: {@code slstm_backend_layout}, or the sLSTM
     * section's {@code backend} ({@code slstm.backend}, {@code slstm_block.slstm.backend}), and
     * {@code weight_mode}; absent fields take the canonical values.
     *
     * @param configFile the config file ({@code config.json} or {@code config.yaml}), read as {@link
     *     ai.djl.xlstm.config.XLstmConfig#read} reads it: JSON, or YAML when the name ends in .yaml/.yml
     * @return the options
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if the file is not a config, or a field holds another value
     *     than those above; the message names the file and the field
     */
    public static ImportOptions declaredBy(Path configFile) throws IOException {
        Map<String, Object> config = ConfigMaps.readMap(configFile);
        try {
            return declaredBy(config);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(configFile + ": " + e.getMessage(), e);
        }
    }

    private static ImportOptions declaredBy(Map<String, Object> config) {
        Object layout = config.get("slstm_backend_layout");
        if (layout == null) {
            layout = backendOf(section(config, "slstm"));
        }
        if (layout == null) {
            layout = backendOf(section(section(config, "slstm_block"), "slstm"));
        }
        Object mode = config.get("weight_mode");
        return new ImportOptions(
                layout == null ? SLstmLayout.CUDA : parse(SLstmLayout.class, "slstm_backend_layout", layout),
                mode == null ? WeightMode.SINGLE : parse(WeightMode.class, "weight_mode", mode));
    }

    private static Object backendOf(Map<?, ?> slstm) {
        return slstm == null ? null : slstm.get("backend");
    }

    private static Map<?, ?> section(Map<?, ?> map, String key) {
        return map != null && map.get(key) instanceof Map<?, ?> m ? m : null;
    }

    private static <E extends Enum<E>> E parse(Class<E> type, String field, Object value) {
        String text = String.valueOf(value).toUpperCase(Locale.ROOT);
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(text)) {
                return e;
            }
        }
        throw new IllegalArgumentException("config: field '" + field + "' must be one of "
                + java.util.Arrays.toString(type.getEnumConstants()).toLowerCase(Locale.ROOT) + ", got '" + value + "'");
    }
}
