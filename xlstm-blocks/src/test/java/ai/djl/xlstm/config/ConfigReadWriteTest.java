package ai.djl.xlstm.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.xlstm.TestModels;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The public config API: {@link XLstmConfig#write} then {@link XLstmConfig#read} of the file or its folder. */
class ConfigReadWriteTest {

    @Test
    void aWrittenConfigReadsBackEqualFromItsFileAndItsFolder(@TempDir Path tmp) throws Exception {
        for (XLstmConfig config : List.of(TestModels.neurips(3, List.of(1), 50), TestModels.large(50, 8))) {
            Path dir = Files.createDirectories(tmp.resolve(config.architecture()));
            Path file = dir.resolve("config.json");
            config.write(file);
            assertEquals(config, XLstmConfig.read(file), "read from the file");
            assertEquals(config, XLstmConfig.read(dir), "read from the folder");
            assertEquals(config.fingerprint(), XLstmConfig.read(dir).fingerprint());
            assertEquals(config, XLstmConfig.fromMap(config.toUpstreamMap()), "fromMap of toUpstreamMap");
        }
    }

    @Test
    void aFolderIsReadFromItsJsonElseItsYaml(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("config.yaml"), "vocab_size: 50\nembedding_dim: 64\nnum_heads: 4\nnum_blocks: 2\n"
                + "qk_dim_factor: 0.5\n");
        XLstmConfig yaml = XLstmConfig.read(dir);
        assertEquals(XLstmLargeConfig.ARCHITECTURE, yaml.architecture());
        assertEquals(2, yaml.numBlocks());
        XLstmConfig json = TestModels.neurips(2, List.of(), 40);
        json.write(dir.resolve("config.json"));
        assertEquals(json, XLstmConfig.read(dir), "config.json comes before config.yaml");
    }

    @Test
    void aFolderWithoutAConfigIsNamed(@TempDir Path dir) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> XLstmConfig.read(dir));
        assertTrue(e.getMessage().contains("no config.json or config.yaml in checkpoint folder " + dir), e.getMessage());
    }
}
