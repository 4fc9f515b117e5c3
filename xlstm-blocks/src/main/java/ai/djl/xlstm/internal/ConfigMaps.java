package ai.djl.xlstm.internal;

import com.google.gson.Gson;
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
 * Finds a checkpoint folder's config file and parses it into its raw fields (JSON, or YAML when the
 * name ends in .yaml/.yml), before any interpretation: for readers of fields that are not part of
 * the model config (storage options, kernel names). {@link ai.djl.xlstm.config.XLstmConfig#read}
 * reads a config through the same two methods.
 */
public final class ConfigMaps {

    private ConfigMaps() {}

    /**
     * The config file of a checkpoint folder: {@code config.json}, else {@code config.yaml}, else
     * {@code config.yml}.
     *
     * @param dir the checkpoint folder
     * @return the path of its config file
     * @throws IllegalArgumentException if the folder holds none of them
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
     * The fields of one config file as parsed (JSON, or YAML when the name ends in .yaml/.yml).
     *
     * @param file the config file
     * @return the fields by name, nested sections as maps; mutable
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if the file is not UTF-8, not valid JSON/YAML, empty, or not a
     *     mapping of fields; the message names the file
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

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object doc, Path file) {
        if (doc instanceof Map<?, ?> m) {
            return (Map<String, Object>) m;
        }
        throw new IllegalArgumentException("config " + file + " is not a mapping of fields");
    }
}
