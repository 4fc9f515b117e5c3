package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code xlstm export} writes a folder, from a zoo model or a folder, that reloads to the same model
 * (f32) or its float16 rounding.
 */
class ExportCommandTest {

    private static final long[][] TOKENS = {{464, 318, 257, 3872, 11, 290}};

    private static float[] logits(Path dir) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(dir, manager);
            return model.logits(new ParameterStore(manager, false), manager.create(TOKENS), false).toFloatArray();
        }
    }

    @Test
    void exportReloadsExactlyInFloat32AndCloselyInFloat16(@TempDir Path tmp) throws Exception {
        Path source = ModelFolder.zooFolder("xlstm-austen-tiny");
        float[] expected = logits(source);
        String[] f32 = CliRun.run(List.of("export", "--model", "xlstm-austen-tiny", "--out", tmp.resolve("f32").toString()));
        assertEquals("0", f32[0], f32[2]);
        assertArrayEquals(expected, logits(tmp.resolve("f32")), 0f, "f32 export reloads bit-identical");
        assertEquals(Files.readString(source.resolve("generation_config.json")),
                Files.readString(tmp.resolve("f32/generation_config.json")), "the source's generation settings travel along");
        String[] f16 = CliRun.run(List.of("export", "--model-path", source.toString(), "--out", tmp.resolve("f16").toString(),
                "--dtype", "f16", "--generation-config", source.resolve("generation_config.json").toString()));
        assertEquals("0", f16[0], f16[2]);
        assertEquals("F16", SafeTensors.readHeader(tmp.resolve("f16/model.safetensors")).values().iterator().next().dtype());
        assertTrue(Files.size(tmp.resolve("f16/model.safetensors")) * 2 - Files.size(tmp.resolve("f32/model.safetensors")) < 4096,
                "half the bytes");
        for (String f : List.of("config.json", "tokenizer.json", "generation_config.json", "serving.properties")) {
            assertTrue(Files.isRegularFile(tmp.resolve("f16").resolve(f)), f);
        }
        float[] half = logits(tmp.resolve("f16"));
        float max = 0;
        for (int i = 0; i < half.length; i++) {
            max = Math.max(max, Math.abs(half[i] - expected[i]));
        }
        System.out.printf("[export] f16 weights: max|logit diff| %.3e%n", max);
        assertTrue(max < 0.05f, "float16 rounding moves the logits a little: " + max);
        String[] again = CliRun.run(List.of("export", "--model-path", source.toString(), "--out", tmp.resolve("f16").toString()));
        assertEquals("2", again[0], "an existing folder is not overwritten");
    }
}
