package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;

/** {@code xlstm inspect} on a good, a BF16 and a broken checkpoint. */
class InspectCommandTest {

    private static Path checkpoint(Path dir) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = XLstmLanguageModel.create(XLstmConfig.fromMap(Map.of(
                    "architecture", "xlstm-neurips", "vocab_size", 50, "embedding_dim", 16, "num_blocks", 2,
                    "slstm_at", List.of(1), "mlstm", Map.of("num_heads", 2), "slstm", Map.of("num_heads", 2))));
            model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
            UpstreamCheckpoint.save(model, dir);
        }
        return dir;
    }

    @Test
    void describesAGoodCheckpointAndConvertsBf16(@TempDir Path tmp) throws Exception {
        Path good = checkpoint(tmp.resolve("good"));
        String[] r = CliRun.run(List.of("inspect", "--model-path", good.toString(), "--json"));
        assertEquals("0", r[0], r[2]);
        JsonObject report = JsonParser.parseString(r[1].strip()).getAsJsonObject();
        assertEquals("xlstm-neurips", report.get("architecture").getAsString());
        assertTrue(report.get("parameters").getAsLong() > 0);
        assertEquals("{\"F32\":" + report.get("tensors").getAsInt() + "}", report.get("dtypes").toString());

        Path bf16 = Files.createDirectories(tmp.resolve("bf16"));
        Files.copy(good.resolve("config.json"), bf16.resolve("config.json"));
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = SafeTensors.load(good.resolve("model.safetensors"), manager);
            SafeTensors.save(bf16.resolve("model.safetensors"), tensors, null, SafeTensors.FloatStorage.BF16);
        }
        String[] b = CliRun.run(List.of("inspect", "--model-path", bf16.toString()));
        assertEquals("0", b[0], b[2]);
        assertTrue(b[1].contains("{\"BF16\":") && b[1].contains("loaded as float32") && b[1].contains("forward pass"), b[1]);
    }

    @Test
    void aBrokenCheckpointIsOneLineNamingTheFileAndExit1(@TempDir Path tmp) throws Exception {
        Path dir = checkpoint(tmp.resolve("broken"));
        Path weights = dir.resolve("model.safetensors");
        try (FileChannel c = FileChannel.open(weights, StandardOpenOption.WRITE)) {
            c.truncate(Files.size(weights) - 100); // the last tensor's data is cut short
        }
        String[] r = CliRun.run(List.of("inspect", "--model-path", dir.toString()));
        assertEquals("1", r[0], r[2]);
        String err = r[2].strip();
        assertTrue(err.startsWith("error: ") && err.contains("model.safetensors"), err);
        assertFalse(err.contains("\n"), "one line: " + err);

        Files.writeString(dir.resolve("config.json"), "{\"architecture\": \"xlstm-neurips\", \"vocab_size\": 50");
        String[] c = CliRun.run(List.of("inspect", "--model-path", dir.toString()));
        assertEquals("1", c[0], c[2]);
        assertTrue(c[2].contains("config.json") && !c[2].strip().contains("\n"), c[2]);
    }
}
