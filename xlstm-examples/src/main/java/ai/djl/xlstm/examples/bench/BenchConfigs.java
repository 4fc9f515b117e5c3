package ai.djl.xlstm.examples.bench;

import ai.djl.xlstm.config.XLstmConfig;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import com.google.gson.reflect.TypeToken;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The configurations of {@code xlstm bench --config}: a config file ({@code config.json} or
 * {@code .yaml}, either architecture), or the name of one of the standard configurations bundled
 * in {@code bench/NAME.json} (see {@link #NAMES} and {@code docs/benchmarks.md}).
 */
public final class BenchConfigs {

    /**
     * The bundled configurations: the 7.5M NeurIPS xLSTM[7:1], the 27.7M xLSTM Large, and 4 of the
     * 32 blocks of xLSTM-7b at full width.
     */
    public static final List<String> NAMES = List.of("neurips-7.5m", "large-27.7m", "xlstm-7b-slice");

    private BenchConfigs() {}

    /**
     * The configuration {@code value} names: an existing file, else a bundled name.
     *
     * @param value a path or a bundled name
     * @return the configuration
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if it is neither, or the config is invalid
     */
    public static XLstmConfig resolve(String value) throws IOException {
        Path file = Path.of(value);
        if (Files.isRegularFile(file)) {
            return XLstmConfig.read(file);
        }
        if (!NAMES.contains(value)) {
            throw new IllegalArgumentException("--config " + value + ": no such file, and not a bundled configuration "
                    + NAMES);
        }
        try (InputStream in = BenchConfigs.class.getResourceAsStream("/bench/" + value + ".json")) {
            if (in == null) {
                throw new IllegalStateException("the bundled configuration bench/" + value + ".json is missing from the jar");
            }
            String json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            Map<String, Object> map;
            try {
                map = new Gson().fromJson(json, new TypeToken<Map<String, Object>>() {}.getType());
            } catch (JsonParseException e) {
                throw new IllegalStateException("bundled configuration " + value + ": " + e.getMessage(), e);
            }
            return XLstmConfig.fromMap(map);
        }
    }
}
