package ai.djl.xlstm.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The importer accepts every upstream checkpoint variant (shards, Hugging Face index and names,
 * fused xLSTM Large projections, the vanilla sLSTM layout, BF16/F16 weights, config.yaml) and
 * gives the same model, which saves and reloads to bit-identical logits; a checkpoint that does not
 * fit is refused with every problem listed.
 */
class CheckpointImportTest {

    private static Path reference(String name) throws URISyntaxException {
        return Path.of(CheckpointImportTest.class.getResource("/reference/" + name).toURI());
    }

    /**
     * Logits of the checkpoint in {@code dir} on the reference tokens, after checking that the
     * imported model, saved and loaded again, gives bit-identical logits (whatever the variant it
     * was imported from, the save writes the canonical form and says so).
     */
    private static float[] logits(Path dir, Path io) throws IOException {
        Path saved = Files.createTempDirectory("xlstm-roundtrip");
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(dir, manager);
            NDArray tokens = SafeTensors.load(io, manager).get("tokens");
            float[] imported = model.logits(new ParameterStore(manager, false), tokens, false).toFloatArray();
            UpstreamCheckpoint.save(model, saved);
            XLstmLanguageModel reloaded = UpstreamCheckpoint.load(saved, manager);
            float[] again = reloaded.logits(new ParameterStore(manager, false), tokens, false).toFloatArray();
            assertArrayEquals(imported, again, "import of " + dir.getFileName() + ", save, reload: logits differ");
            assertEquals(model.getConfig(), reloaded.getConfig(), "config after a save and reload");
            System.out.printf("[import] %s: import, save, reload: %d logits bit-identical%n", dir.getFileName(), again.length);
            return imported;
        } finally {
            try (var files = Files.walk(saved)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    /** Writes a variant of {@code ref}: same config (maybe edited), tensors transformed. */
    private static Path variant(Path ref, Path dir, Function<Map<String, NDArray>, Map<String, NDArray>> edit,
            NDManager manager) throws IOException {
        Files.createDirectories(dir);
        Files.copy(ref.resolve("config.json"), dir.resolve("config.json"));
        Map<String, NDArray> tensors = SafeTensors.load(ref.resolve("model.safetensors"), manager);
        SafeTensors.save(dir.resolve("model.safetensors"), edit.apply(tensors), Map.of());
        return dir;
    }

    @Test
    void shardsAndHuggingFaceIndexLoadTheSameModel(@TempDir Path tmp) throws Exception {
        Path ref = reference("neurips-a");
        float[] expected = logits(ref, ref.resolve("io.safetensors"));
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> all = SafeTensors.load(ref.resolve("model.safetensors"), manager);
            Map<String, NDArray> a = new LinkedHashMap<>();
            Map<String, NDArray> b = new LinkedHashMap<>();
            StringBuilder index = new StringBuilder("{\"metadata\": {}, \"weight_map\": {");
            int i = 0;
            for (Map.Entry<String, NDArray> e : all.entrySet()) {
                boolean first = i++ % 2 == 0;
                (first ? a : b).put(e.getKey(), e.getValue());
                index.append(i > 1 ? "," : "").append('"').append(e.getKey()).append("\": \"")
                        .append(first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors").append('"');
            }
            index.append("}}");

            Path shards = Files.createDirectories(tmp.resolve("shards"));
            Files.copy(ref.resolve("config.json"), shards.resolve("config.json"));
            SafeTensors.save(shards.resolve("model_0.safetensors"), a, Map.of());
            SafeTensors.save(shards.resolve("model_1.safetensors"), b, Map.of());

            Path hf = Files.createDirectories(tmp.resolve("hf"));
            Files.copy(ref.resolve("config.json"), hf.resolve("config.json"));
            SafeTensors.save(hf.resolve("model-00001-of-00002.safetensors"), a, Map.of());
            SafeTensors.save(hf.resolve("model-00002-of-00002.safetensors"), b, Map.of());
            Files.writeString(hf.resolve("model.safetensors.index.json"), index.toString());

            assertClose(expected, logits(shards, ref.resolve("io.safetensors")), "model_N shards");
            assertClose(expected, logits(hf, ref.resolve("io.safetensors")), "HF index");
        }
    }

    @Test
    void largeAcceptsHuggingFaceNamesFusedWeightsAndYaml(@TempDir Path tmp) throws Exception {
        Path ref = reference("large-a");
        Path io = ref.resolve("io.safetensors");
        float[] expected = logits(ref, io);
        try (NDManager manager = NDManager.newBaseManager()) {
            Path hf = variant(ref, tmp.resolve("hf"), t -> {
                Map<String, NDArray> out = new LinkedHashMap<>();
                t.forEach((k, v) -> out.put(k.equals("embedding.weight") ? "backbone.embeddings.weight"
                        : k.replace(".mlstm_layer.q.", ".mlstm_layer.query.")
                                .replace(".mlstm_layer.k.", ".mlstm_layer.key.")
                                .replace(".mlstm_layer.v.", ".mlstm_layer.value."), v));
                return out;
            }, manager);
            assertClose(expected, logits(hf, io), "Hugging Face names");

            Path fused = variant(ref, tmp.resolve("fused"), t -> {
                Map<String, NDArray> out = new LinkedHashMap<>(t);
                for (int i = 0; t.containsKey("backbone.blocks." + i + ".norm_mlstm.weight"); i++) {
                    String p = "backbone.blocks." + i + ".";
                    out.put(p + "mlstm_layer.qkv_opreact.weight", cat(out, p + "mlstm_layer.", "q.weight", "k.weight", "v.weight", "ogate_preact.weight"));
                    out.put(p + "mlstm_layer.ifgate_preact.weight", cat(out, p + "mlstm_layer.", "igate_preact.weight", "fgate_preact.weight"));
                    out.put(p + "mlstm_layer.ifgate_preact.bias", cat(out, p + "mlstm_layer.", "igate_preact.bias", "fgate_preact.bias"));
                    out.put(p + "ffn.proj_up_gate_z.weight", cat(out, p + "ffn.", "proj_up_gate.weight", "proj_up.weight"));
                }
                return out;
            }, manager);
            String config = Files.readString(fused.resolve("config.json")).replace("\"single\"", "\"fused\"");
            Files.writeString(fused.resolve("config.json"), config);
            assertClose(expected, logits(fused, io), "fused weights");

            // config.yaml instead of config.json (xLSTM Large checkpoints ship YAML)
            Path yaml = variant(ref, tmp.resolve("yaml"), t -> t, manager);
            Files.delete(yaml.resolve("config.json"));
            StringBuilder y = new StringBuilder();
            String json = Files.readString(ref.resolve("config.json"));
            for (String line : json.replaceAll("[{}]", "").split(",\n|\n")) {
                if (!line.isBlank()) {
                    y.append(line.trim().replaceFirst("^\"([^\"]+)\":", "$1:")).append('\n');
                }
            }
            Files.writeString(yaml.resolve("config.yaml"), y.toString());
            assertClose(expected, logits(yaml, io), "config.yaml");
        }
    }

    /** Concatenates {@code prefix + names} (removing them) along axis 0. */
    private static NDArray cat(Map<String, NDArray> t, String prefix, String... names) {
        NDList parts = new NDList();
        for (String n : names) {
            parts.add(t.remove(prefix + n));
        }
        return NDArrays.concat(parts, 0);
    }

    @Test
    void vanillaSLstmLayoutIsConverted(@TempDir Path tmp) throws Exception {
        Path ref = reference("neurips-a");
        Path io = ref.resolve("io.safetensors");
        float[] expected = logits(ref, io);
        try (NDManager manager = NDManager.newBaseManager()) {
            Path vanilla = variant(ref, tmp.resolve("vanilla"), t -> {
                Map<String, NDArray> out = new LinkedHashMap<>(t);
                t.forEach((k, v) -> {
                    if (k.endsWith("_recurrent_kernel_")) { // [NH, DH, 4DH] -> [NH, 4DH, DH]
                        out.put(k, v.transpose(0, 2, 1));
                    } else if (k.endsWith("slstm_cell._bias_")) { // (head, gate, dim) -> (gate, head, dim)
                        long nh = 4;
                        out.put(k, v.reshape(nh, 4, -1).transpose(1, 0, 2).reshape(-1));
                    }
                });
                return out;
            }, manager);
            String config = Files.readString(vanilla.resolve("config.json")).replace("\"cuda\"", "\"vanilla\"");
            Files.writeString(vanilla.resolve("config.json"), config);
            assertClose(expected, logits(vanilla, io), "vanilla sLSTM layout");
        }
    }

    @Test
    void halfPrecisionWeightsLoad(@TempDir Path tmp) throws Exception {
        Path ref = reference("large-a");
        for (String dtype : List.of("BF16", "F16")) {
            Path dir = Files.createDirectories(tmp.resolve(dtype));
            Files.copy(ref.resolve("config.json"), dir.resolve("config.json"));
            Map<String, float[]> rounded = new LinkedHashMap<>();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            try (NDManager manager = NDManager.newBaseManager()) {
                for (Map.Entry<String, NDArray> e : SafeTensors.load(ref.resolve("model.safetensors"), manager).entrySet()) {
                    rounded.put(e.getKey(), e.getValue().toFloatArray());
                    shapes.put(e.getKey(), e.getValue().getShape().getShape());
                }
            }
            writeHalf(dir.resolve("model.safetensors"), dtype, rounded, shapes);
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = UpstreamCheckpoint.load(dir, manager);
                NDArray embedding = ai.djl.xlstm.io.ParameterNames.of(model).get("embedding.weight").getArray();
                float[] expectedEmbedding = rounded.get("embedding.weight");
                float[] actual = embedding.toFloatArray();
                for (int i = 0; i < actual.length; i++) {
                    assertEquals(expectedEmbedding[i], actual[i], 0f, dtype + " embedding[" + i + "]");
                }
                NDArray tokens = SafeTensors.load(ref.resolve("io.safetensors"), manager).get("tokens");
                NDArray logits = model.logits(new ParameterStore(manager, false), tokens, false);
                NDArray reference = SafeTensors.load(ref.resolve("io.safetensors"), manager).get("logits");
                float diff = logits.sub(reference).abs().max().getFloat();
                System.out.printf("[import] %s weights: max|diff| of logits vs float32 reference = %.3e%n", dtype, diff);
                assertTrue(diff < 0.5f, dtype + " logits drift " + diff);
                assertArrayEquals(logits.toFloatArray(), logits(dir, ref.resolve("io.safetensors")), dtype + " import");
            }
        }
    }

    /** Writes {@code values} as BF16 or F16, rounding each value in place to what was written. */
    private static void writeHalf(Path file, String dtype, Map<String, float[]> values, Map<String, long[]> shapes)
            throws IOException {
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        for (Map.Entry<String, float[]> e : values.entrySet()) {
            long bytes = 2L * e.getValue().length;
            header.append(offset == 0 ? "" : ",").append('"').append(e.getKey()).append("\":{\"dtype\":\"")
                    .append(dtype).append("\",\"shape\":").append(java.util.Arrays.toString(shapes.get(e.getKey())))
                    .append(",\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        header.append('}');
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length).put(h);
        for (float[] v : values.values()) {
            for (int i = 0; i < v.length; i++) {
                short half = dtype.equals("BF16") ? (short) (Float.floatToIntBits(v[i]) >>> 16) : toF16(v[i]);
                buf.putShort(half);
                v[i] = dtype.equals("BF16") ? Float.intBitsToFloat((half & 0xffff) << 16) : fromF16(half);
            }
        }
        Files.write(file, buf.array());
    }

    /** Float to IEEE half by truncation (values here are small and normal). */
    private static short toF16(float f) {
        int bits = Float.floatToIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = ((bits >>> 23) & 0xff) - 127 + 15;
        int mant = (bits >>> 13) & 0x3ff;
        if (exp <= 0) {
            return (short) sign; // flush tiny values to zero
        }
        return (short) (sign | (exp << 10) | mant);
    }

    private static float fromF16(short h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0) {
            return Float.intBitsToFloat(sign); // only zeros are written here
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    @Test
    void misfittingCheckpointListsEveryProblem(@TempDir Path tmp) throws Exception {
        Path ref = reference("neurips-a");
        try (NDManager manager = NDManager.newBaseManager()) {
            Path bad = variant(ref, tmp.resolve("bad"), t -> {
                Map<String, NDArray> out = new LinkedHashMap<>(t);
                out.remove("lm_head.weight");
                out.put("xlstm_block_stack.blocks.0.xlstm.learnable_skip", manager.zeros(new Shape(63)));
                out.put("extra.weight", manager.zeros(new Shape(2, 2)));
                return out;
            }, manager);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> logits(bad, ref.resolve("io.safetensors")));
            String msg = e.getMessage();
            assertTrue(msg.contains("lm_head.weight: missing (expected (50, 32))"), msg);
            assertTrue(msg.contains("xlstm_block_stack.blocks.0.xlstm.learnable_skip: expected (64), got (63)"), msg);
            assertTrue(msg.contains("extra.weight: unexpected tensor (2, 2)"), msg);
            assertTrue(msg.contains("3 problems"), msg);
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        float max = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i] - actual[i]));
        }
        System.out.printf("[import] %s: max|diff| = %.3e%n", what, max);
        assertTrue(max <= 1e-5f, what + ": max|diff| " + max);
    }
}
