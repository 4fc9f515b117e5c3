package ai.djl.xlstm.config;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import com.google.gson.reflect.TypeToken;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Reads a model config from an upstream {@code config.json} or {@code config.yaml}, and writes
 * {@code config.json} with the upstream field names (plus {@code architecture}).
 *
 * <p>The architecture comes from the field {@code architecture} ({@code xlstm-neurips} or {@code
 * xlstm-large}) when present; otherwise it is recognized from upstream fields: Hugging Face's
 * {@code model_type: xlstm} and xLSTM Large's {@code qk_dim_factor} mean xLSTM Large, the NeurIPS
 * sections ({@code mlstm}, {@code slstm}, {@code mlstm_block}, {@code slstm_block}, {@code
 * slstm_at}) mean the NeurIPS model.
 */
public final class ConfigFiles {

    private ConfigFiles() {}

    /**
     * Reads {@code config.json}, or else {@code config.yaml}, from a checkpoint folder.
     *
     * @param dir the checkpoint folder
     * @return the config
     * @throws IOException if the file cannot be read
     */
    public static XLstmConfig readFolder(Path dir) throws IOException {
        return read(configFile(dir));
    }

    /**
     * The config file of a checkpoint folder: {@code config.json}, else {@code config.yaml}.
     *
     * @param dir the checkpoint folder
     * @return the path of its config file
     */
    public static Path configFile(Path dir) {
        for (String name : new String[] {"config.json", "config.yaml", "config.yml"}) {
            Path file = dir.resolve(name);
            if (Files.isRegularFile(file)) {
                return file;
            }
        }
        throw new IllegalArgumentException(
                "no config.json or config.yaml in checkpoint folder " + dir);
    }

    /**
     * Reads one config file (JSON, or YAML when the name ends in .yaml/.yml).
     *
     * @param file the config file
     * @return the config
     * @throws IOException if the file cannot be read
     */
    public static XLstmConfig read(Path file) throws IOException {
        Map<String, Object> map = readMap(file);
        try {
            return fromMap(map);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The fields of one config file as parsed (JSON, or YAML when the name ends in .yaml/.yml).
     *
     * @param file the config file
     * @return the fields by name
     * @throws IOException if the file cannot be read
     */
    public static Map<String, Object> readMap(Path file) throws IOException {
        String name = file.getFileName().toString();
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("config " + file + " is not UTF-8 text", e);
        }
        Map<String, Object> map;
        if (name.endsWith(".yaml") || name.endsWith(".yml")) {
            try {
                map = asMap(new Yaml(new SafeConstructor(new LoaderOptions())).load(text), file);
            } catch (YAMLException e) {
                throw new IllegalArgumentException("config " + file + " is not valid YAML: " + e.getMessage(), e);
            }
        } else {
            try {
                map = new Gson().fromJson(text, new TypeToken<Map<String, Object>>() {}.getType());
            } catch (JsonParseException e) {
                throw new IllegalArgumentException("config " + file + " is not valid JSON: " + e.getMessage(), e);
            }
        }
        if (map == null) {
            throw new IllegalArgumentException("config " + file + " is empty");
        }
        return map;
    }

    /**
     * Builds the config of the architecture that {@code map} describes.
     *
     * @param map the fields, upstream or Hugging Face names
     * @return the config
     */
    public static XLstmConfig fromMap(Map<String, Object> map) {
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

    /**
     * Writes {@code config} as {@code config.json} with upstream field names.
     *
     * @param config the config
     * @param file the file to write
     * @throws IOException if the file cannot be written
     */
    public static void write(XLstmConfig config, Path file) throws IOException {
        String json = new GsonBuilder().setPrettyPrinting().create().toJson(config.toUpstreamMap());
        Files.writeString(file, json + "\n", StandardCharsets.UTF_8);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object doc, Path file) {
        if (doc instanceof Map<?, ?> m) {
            return (Map<String, Object>) m;
        }
        throw new IllegalArgumentException("config " + file + " is not a mapping of fields");
    }
}
