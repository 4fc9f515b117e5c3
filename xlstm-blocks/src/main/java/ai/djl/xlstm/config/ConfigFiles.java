package ai.djl.xlstm.config;

import ai.djl.xlstm.internal.AtomicFiles;
import ai.djl.xlstm.internal.ConfigMaps;

import com.google.gson.GsonBuilder;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Reads a model config from an upstream {@code config.json} or {@code config.yaml}, and writes
 * {@code config.json} with the upstream field names (plus {@code architecture}); the implementation
 * of {@link XLstmConfig#read}, {@link XLstmConfig#fromMap} and {@link XLstmConfig#write}.
 *
 * <p>The architecture comes from the field {@code architecture} ({@code xlstm-neurips} or {@code
 * xlstm-large}) when present; otherwise it is recognized from upstream fields: Hugging Face's
 * {@code model_type: xlstm} and xLSTM Large's {@code qk_dim_factor} mean xLSTM Large, the NeurIPS
 * sections ({@code mlstm}, {@code slstm}, {@code mlstm_block}, {@code slstm_block}, {@code
 * slstm_at}) mean the NeurIPS model.
 */
final class ConfigFiles {

    private ConfigFiles() {}

    /** Reads {@code config.json}, or else {@code config.yaml}, from the checkpoint folder {@code dir}. */
    static XLstmConfig readFolder(Path dir) throws IOException {
        return read(ConfigMaps.configFile(dir));
    }

    /** Reads one config file (JSON, or YAML when the name ends in .yaml/.yml). */
    static XLstmConfig read(Path file) throws IOException {
        Map<String, Object> map = ConfigMaps.readMap(file);
        try {
            return fromMap(map);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Builds the config of the architecture that {@code map} (upstream or Hugging Face names) describes. */
    static XLstmConfig fromMap(Map<String, Object> map) {
        Object arch = map.get("architecture");
        if (arch == null) {
            boolean large = "xlstm".equals(map.get("model_type")) || map.containsKey("qk_dim_factor");
            arch = large ? XLstmLargeConfig.ARCHITECTURE : XLstmLmConfig.ARCHITECTURE;
            boolean neurips = map.containsKey("mlstm") || map.containsKey("slstm")
                    || map.containsKey("mlstm_block") || map.containsKey("slstm_block")
                    || map.containsKey("slstm_at");
            if (!large && !neurips) {
                throw new IllegalArgumentException(
                        "cannot tell the architecture: the config has no 'architecture' field and none"
                                + " of the fields of either upstream config");
            }
        }
        if (XLstmLargeConfig.ARCHITECTURE.equals(arch)) {
            return XLstmLargeConfig.from(map);
        }
        if (XLstmLmConfig.ARCHITECTURE.equals(arch)) {
            return XLstmLmConfig.from(map);
        }
        throw new IllegalArgumentException(
                "unknown architecture '" + arch + "': expected '" + XLstmLmConfig.ARCHITECTURE
                        + "' or '" + XLstmLargeConfig.ARCHITECTURE + "'");
    }

    /** Writes {@code config} to {@code file} as pretty-printed JSON with upstream field names. */
    static void write(XLstmConfig config, Path file) throws IOException {
        String json = new GsonBuilder().setPrettyPrinting().create().toJson(config.toUpstreamMap());
        AtomicFiles.writeString(file, json + "\n"); // a crash leaves the old file or the new, never half
    }
}
