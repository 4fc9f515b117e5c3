package ai.djl.xlstm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.internal.ConfigMaps;
import ai.djl.xlstm.model.XLstmLanguageModel;

import com.google.gson.Gson;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@link UpstreamCheckpoint#load} checks what it loads before it allocates the model: the config's
 * bounds, the checkpoint's headers against the config, and the parameter memory against the
 * machine's; every valid checkpoint variant still loads.
 */
class CheckpointPreflightTest {

    /** The shape of integration-tests' reference/neurips-a: V = 50, D = 32, sLSTM at 1 of 3. */
    private static XLstmConfig neurips(boolean tied) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", "xlstm-neurips");
        m.put("vocab_size", 50);
        m.put("embedding_dim", 32);
        m.put("num_blocks", 3);
        m.put("slstm_at", List.of(1));
        m.put("mlstm", Map.of("num_heads", 4));
        m.put("slstm", Map.of("num_heads", 4));
        m.put("feedforward", Map.of());
        m.put("tie_weights", tied);
        return XLstmConfig.fromMap(m);
    }

    /** Saves a random model of {@code config} as an upstream checkpoint folder. */
    private static Path checkpoint(XLstmConfig config, Path dir) throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            UpstreamCheckpoint.save(TestModels.randomModel(config, manager, 7, 0.1f), dir);
        }
        return dir;
    }

    /** Sets top-level fields of the folder's config.json. */
    private static void editConfig(Path dir, Map<String, Object> fields) throws IOException {
        Path file = dir.resolve("config.json");
        Map<String, Object> map = ConfigMaps.readMap(file);
        map.putAll(fields);
        Files.writeString(file, new Gson().toJson(map));
    }

    /** Rewrites the folder's model.safetensors after {@code edit}. */
    private static void editTensors(Path dir, Consumer<Map<String, NDArray>> edit) throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>(SafeTensors.load(dir.resolve("model.safetensors"), manager));
            edit.accept(tensors);
            SafeTensors.save(dir.resolve("model.safetensors"), tensors, Map.of());
        }
    }

    /**
     * Loads {@code dir}, expecting an IllegalArgumentException raised before the model is
     * allocated and before any tensor data is read:
     *
     * <ul>
     *   <li>the load gets a capped manager ({@link NDManager#cap()}), so creating any array or
     *       sub-manager in it throws an IllegalStateException instead, and the manager is asserted
     *       to hold no array afterwards;
     *   <li>the data section of every safetensors file of the folder is first inverted byte by byte
     *       (the headers are kept), so any load of tensor data fails on the data checksum instead
     *       of giving the expected message.
     * </ul>
     */
    private static IllegalArgumentException refusal(Path dir) throws IOException {
        invertTensorData(dir);
        IllegalArgumentException e;
        try (NDManager manager = NDManager.newBaseManager()) {
            manager.cap();
            // the timeout only guards against a hang
            e = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> assertThrows(
                    IllegalArgumentException.class, () -> UpstreamCheckpoint.load(dir, manager)));
            assertEquals(List.of(), manager.getManagedArrays(), dir.getFileName() + ": arrays allocated before refusing");
        }
        assertFalse(e.getMessage().contains("do not match the checksum"), dir.getFileName() + ": tensor data read before refusing: "
                + e.getMessage());
        System.out.printf("[preflight] %s refused with nothing allocated and no tensor data read: %s%n", dir.getFileName(),
                e.getMessage());
        return e;
    }

    /** Inverts every byte after the header of each {@code *.safetensors} file of {@code dir}. */
    private static void invertTensorData(Path dir) throws IOException {
        List<Path> files;
        try (var list = Files.list(dir)) {
            files = list.filter(f -> f.getFileName().toString().endsWith(".safetensors")).toList();
        }
        assertFalse(files.isEmpty(), dir + " holds no safetensors file");
        for (Path file : files) {
            byte[] bytes = Files.readAllBytes(file);
            long dataStart = 8 + ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertTrue(dataStart < bytes.length, file + " has no tensor data");
            for (int i = (int) dataStart; i < bytes.length; i++) {
                bytes[i] = (byte) ~bytes[i];
            }
            Files.write(file, bytes);
        }
    }

    private static void assertContains(String message, String... parts) {
        for (String part : parts) {
            assertTrue(message.contains(part), "message lacks '" + part + "':\n" + message);
        }
    }

    @Test
    void outOfBoundConfigValuesFailBeforeAnythingIsBuilt(@TempDir Path tmp) throws Exception {
        Path valid = checkpoint(neurips(false), tmp.resolve("valid"));
        Map<String, Object[]> cases = new LinkedHashMap<>();
        cases.put("num_blocks", new Object[] {1e9, "num_blocks must be in [1, 1024], got 1000000000"});
        cases.put("vocab_size", new Object[] {1e9, "vocab_size must be in [1, 16777216], got 1000000000"});
        cases.put("embedding_dim", new Object[] {1_048_576, "embedding_dim must be in [1, 65536], got 1048576"});
        cases.put("context_length", new Object[] {-5, "context_length must be in [1, 1073741824], got -5"});
        for (Map.Entry<String, Object[]> c : cases.entrySet()) {
            Path dir = Files.createDirectories(tmp.resolve(c.getKey()));
            Files.copy(valid.resolve("model.safetensors"), dir.resolve("model.safetensors"));
            Files.copy(valid.resolve("config.json"), dir.resolve("config.json"));
            editConfig(dir, Map.of(c.getKey(), c.getValue()[0]));
            assertContains(refusal(dir).getMessage(), (String) c.getValue()[1]);
        }
    }

    @Test
    void aMismatchedEmbeddingIsOneErrorBeforeAllocating(@TempDir Path tmp) throws Exception {
        Path single = checkpoint(neurips(false), tmp.resolve("single"));
        editConfig(single, Map.of("vocab_size", 60));
        // the same checkpoint as model_N shards, and as Hugging Face shards with an index
        Path shards = Files.createDirectories(tmp.resolve("shards"));
        Path hf = Files.createDirectories(tmp.resolve("hf"));
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> all = SafeTensors.load(single.resolve("model.safetensors"), manager);
            Map<String, NDArray> first = new LinkedHashMap<>();
            Map<String, NDArray> second = new LinkedHashMap<>();
            Map<String, String> weightMap = new LinkedHashMap<>();
            all.forEach((name, t) -> {
                boolean late = name.startsWith("token_embedding"); // the embedding in the second shard
                (late ? second : first).put(name, t);
                weightMap.put(name, late ? "b.safetensors" : "a.safetensors");
            });
            SafeTensors.save(shards.resolve("model_0.safetensors"), first, Map.of());
            SafeTensors.save(shards.resolve("model_1.safetensors"), second, Map.of());
            SafeTensors.save(hf.resolve("a.safetensors"), first, Map.of());
            SafeTensors.save(hf.resolve("b.safetensors"), second, Map.of());
            Files.writeString(hf.resolve("model.safetensors.index.json"), new Gson().toJson(Map.of("weight_map", weightMap)));
        }
        Files.copy(single.resolve("config.json"), shards.resolve("config.json"));
        Files.copy(single.resolve("config.json"), hf.resolve("config.json"));
        for (Path dir : List.of(single, shards, hf)) {
            String msg = refusal(dir).getMessage();
            assertContains(msg, "vocab_size: config 60, checkpoint 50 (rows of token_embedding.weight [50, 32])",
                    "before allocating the model", "parameter elements: config implies");
            assertFalse(msg.contains("missing (expected"), "the per-tensor check ran, so the model was allocated: " + msg);
        }
    }

    @Test
    void anEmbeddingUnderItsHuggingFaceNameIsCompared(@TempDir Path tmp) throws Exception {
        Path dir = checkpoint(TestModels.large(50, 16), tmp.resolve("large-hf"));
        editTensors(dir, t -> t.put("backbone.embeddings.weight", t.remove("embedding.weight")));
        editConfig(dir, Map.of("embedding_dim", 64, "vocab_size", 51));
        String msg = refusal(dir).getMessage();
        assertContains(msg, "vocab_size: config 51, checkpoint 50 (rows of backbone.embeddings.weight [50, 32])",
                "embedding_dim: config 64, checkpoint 32 (columns of backbone.embeddings.weight [50, 32])");
    }

    @Test
    void aHugeConfigWithinBoundsFailsFastInsteadOfAllocating(@TempDir Path tmp) throws Exception {
        // 2^24 x 65536 embedding and head: 8.8 TB of float32, which an unchecked load would try to allocate
        Path dir = checkpoint(neurips(false), tmp.resolve("huge"));
        editConfig(dir, Map.of("vocab_size", 1 << 24, "embedding_dim", 1 << 16));
        XLstmConfig huge = XLstmConfig.read(dir);
        String msg = refusal(dir).getMessage();
        assertContains(msg, "vocab_size: config 16777216, checkpoint 50", "embedding_dim: config 65536, checkpoint 32",
                String.format(Locale.ROOT, "parameter elements: config implies %,d", huge.parameterCount()));
        long memory = UpstreamCheckpoint.physicalMemoryBytes();
        assertTrue(memory > 0, "this JVM tells the physical memory");
        assertContains(msg, String.format(Locale.ROOT, "memory: the config's %,d parameters need %.2f GB",
                huge.parameterCount(), 4.0 * huge.parameterCount() / 1e9),
                String.format(Locale.ROOT, "%.2f GB (%,d bytes) of physical memory", memory / 1e9, memory));
    }

    @Test
    void parametersThatCannotFitAreRefusedWithTheEstimate(@TempDir Path tmp) throws Exception {
        XLstmConfig config = neurips(false);
        Map<String, SafeTensors.TensorInfo> header =
                SafeTensors.readCheckpointHeader(checkpoint(config, tmp.resolve("ok")));
        long bytes = 4 * config.parameterCount();
        // the checkpoint fits its config: only the memory can stop it
        UpstreamCheckpoint.checkBeforeAllocating(config, header, "ok", bytes);
        UpstreamCheckpoint.checkBeforeAllocating(config, header, "ok", -1); // unknown memory: no check
        // float16 weights need half the memory
        UpstreamCheckpoint.checkBeforeAllocating(config, header, "ok", bytes / 2, ai.djl.ndarray.types.DataType.FLOAT16);
        assertContains(assertThrows(IllegalArgumentException.class, () -> UpstreamCheckpoint.checkBeforeAllocating(
                config, header, "ok", bytes / 2 - 1, ai.djl.ndarray.types.DataType.FLOAT16)).getMessage(), "as float16");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UpstreamCheckpoint.checkBeforeAllocating(config, header, "ok", bytes - 1));
        assertContains(e.getMessage(), "(1 problem,", String.format(Locale.ROOT,
                "memory: the config's %,d parameters need %.2f GB (%,d bytes) as float32, more than the %.2f GB (%,d"
                        + " bytes) of physical memory",
                config.parameterCount(), bytes / 1e9, bytes, (bytes - 1) / 1e9, bytes - 1));
    }

    @Test
    void anSLstmKernelOfTheOtherLayoutThanDeclaredIsRefusedNamingTheLayout(@TempDir Path tmp) throws Exception {
        // the case: a CUDA-layout checkpoint declared vanilla loaded with only the bias reordered
        Path cuda = checkpoint(neurips(false), tmp.resolve("cuda"));
        editConfig(cuda, Map.of("slstm_backend_layout", "vanilla"));
        assertContains(loadFailure(cuda), "checkpoint " + cuda + ": xlstm_block_stack.blocks.1.xlstm.slstm_cell."
                + "_recurrent_kernel_ has shape (4, 8, 32), the cuda sLSTM layout", "declared vanilla",
                "set slstm_backend_layout to \"cuda\"");
        // and a vanilla-layout kernel declared (by default) cuda
        Path vanilla = checkpoint(neurips(false), tmp.resolve("vanilla"));
        editTensors(vanilla, t -> t.replaceAll((name, v) -> name.endsWith("_recurrent_kernel_") ? v.transpose(0, 2, 1) : v));
        assertContains(loadFailure(vanilla), "has shape (4, 32, 8), the vanilla sLSTM layout", "declared cuda",
                "set slstm_backend_layout to \"vanilla\"");
        // declared vanilla, it converts to what the CUDA checkpoint holds
        editConfig(vanilla, Map.of("slstm_backend_layout", "vanilla"));
        editTensors(vanilla, t -> t.replaceAll((name, v) -> name.endsWith("slstm_cell._bias_")
                ? v.reshape(4, 4, 8).transpose(1, 0, 2).reshape(-1) : v)); // (head, gate, dim) -> (gate, head, dim)
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, ai.djl.nn.Parameter> converted = ParameterNames.of(UpstreamCheckpoint.load(vanilla, manager));
            Map<String, NDArray> saved = SafeTensors.load(tmp.resolve("cuda/model.safetensors"), manager);
            for (String name : List.of("xlstm_block_stack.blocks.1.xlstm.slstm_cell._recurrent_kernel_",
                    "xlstm_block_stack.blocks.1.xlstm.slstm_cell._bias_")) {
                assertTrue(saved.get(name).contentEquals(converted.get(name).getArray()), name);
            }
        }
    }

    private static String loadFailure(Path dir) {
        return assertThrows(IllegalArgumentException.class, () -> {
            try (NDManager manager = NDManager.newBaseManager()) {
                UpstreamCheckpoint.load(dir, manager);
            }
        }).getMessage();
    }

    @Test
    void missingBlocksAreNamed(@TempDir Path tmp) throws Exception {
        Path dir = checkpoint(neurips(false), tmp.resolve("blocks"));
        editTensors(dir, t -> t.keySet().removeIf(n -> n.startsWith("xlstm_block_stack.blocks.2.")));
        assertContains(refusal(dir).getMessage(),
                "num_blocks: config 3, checkpoint has 2 blocks (xlstm_block_stack.blocks.N for N in [0, 1])");
    }

    @Test
    void aTotalThatDiffersAloneLeavesThePerTensorReport(@TempDir Path tmp) throws Exception {
        // embedding and blocks fit, memory suffices: loadWeights names the tensor, which a total cannot
        Path dir = checkpoint(neurips(false), tmp.resolve("norm"));
        editTensors(dir, t -> t.remove("xlstm_block_stack.post_blocks_norm.weight"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            try (NDManager manager = NDManager.newBaseManager()) {
                UpstreamCheckpoint.load(dir, manager);
            }
        });
        String msg = e.getMessage();
        assertContains(msg, "xlstm_block_stack.post_blocks_norm.weight: missing (expected (32))", "(1 problem)");
    }

    @Test
    void aTiedConfigOverACheckpointWithItsOwnHeadIsRefusedNamingTheFileAndTheTensor(@TempDir Path tmp)
            throws Exception {
        // the fuzz harness's case: tie_weights turned on over an untied checkpoint loaded, its
        // lm_head.weight dropped unnoticed and the embedding used as the head
        Path dir = checkpoint(neurips(false), tmp.resolve("untied"));
        editConfig(dir, Map.of("tie_weights", true));
        String message = loadFailure(dir);
        System.out.println("[tied head] " + message);
        assertContains(message, dir.resolve("model.safetensors") + ": tensor 'lm_head.weight' (50, 32) is not"
                + " the embedding token_embedding.weight (", " of 1600 elements differ",
                "but " + dir.resolve("config.json") + " says tie_weights: true", "set tie_weights to false");
        // one element off is enough
        editTensors(dir, t -> {
            NDArray embedding = t.get("token_embedding.weight");
            float[] head = embedding.toFloatArray();
            head[1234] = Math.nextUp(head[1234]);
            t.put("lm_head.weight", embedding.getManager().create(head, embedding.getShape()));
        });
        assertContains(loadFailure(dir), "tensor 'lm_head.weight' (50, 32) is not the embedding", "1 of 1600 elements"
                + " differ");
        // another shape, under torch.compile's prefix
        editTensors(dir, t -> {
            NDArray head = t.remove("lm_head.weight");
            t.put("_orig_mod.lm_head.weight", head.get("0:49, :"));
        });
        assertContains(loadFailure(dir), "tensor '_orig_mod.lm_head.weight' (49, 32) is not the embedding"
                + " token_embedding.weight (50, 32)");
        // in a sharded checkpoint, the shard that holds it is named
        Path sharded = checkpoint(neurips(false), tmp.resolve("sharded"));
        editConfig(sharded, Map.of("tie_weights", true));
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> all = SafeTensors.load(sharded.resolve("model.safetensors"), manager);
            Map<String, NDArray> head = Map.of("lm_head.weight", all.remove("lm_head.weight"));
            SafeTensors.save(sharded.resolve("model-00001-of-00002.safetensors"), all, Map.of());
            SafeTensors.save(sharded.resolve("model-00002-of-00002.safetensors"), head, Map.of());
            Map<String, String> weightMap = new LinkedHashMap<>();
            all.keySet().forEach(n -> weightMap.put(n, "model-00001-of-00002.safetensors"));
            weightMap.put("lm_head.weight", "model-00002-of-00002.safetensors");
            Files.writeString(sharded.resolve("model.safetensors.index.json"), new Gson().toJson(Map.of("weight_map",
                    weightMap)));
            Files.delete(sharded.resolve("model.safetensors"));
        }
        assertContains(loadFailure(sharded), sharded.resolve("model-00002-of-00002.safetensors")
                + ": tensor 'lm_head.weight' (50, 32) is not the embedding");
        // loadWeights, given the tensors without their files, refuses it too
        Path plain = checkpoint(neurips(false), tmp.resolve("plain"));
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel tied = TestModels.randomModel(neurips(true), manager, 7, 0.1f);
            Map<String, NDArray> tensors = SafeTensors.load(plain.resolve("model.safetensors"), manager);
            assertContains(assertThrows(IllegalArgumentException.class, () -> UpstreamCheckpoint.loadWeights(tied,
                    tensors, ImportOptions.CANONICAL, "plain")).getMessage(), "checkpoint plain: tensor 'lm_head.weight'"
                    + " (50, 32) is not the embedding", "but the config says tie_weights: true");
        }
    }

    @Test
    void aTiedHeadThatIsTheEmbeddingLoadsAsTheEmbedding(@TempDir Path tmp) throws Exception {
        // upstream's state_dict of a tied model holds lm_head.weight too: the same values
        Path dir = checkpoint(neurips(true), tmp.resolve("tied-with-head"));
        editTensors(dir, t -> t.put("lm_head.weight", t.get("token_embedding.weight").duplicate()));
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> saved = SafeTensors.load(dir.resolve("model.safetensors"), manager);
            XLstmLanguageModel model = UpstreamCheckpoint.load(dir, manager);
            Map<String, ai.djl.nn.Parameter> params = ParameterNames.of(model);
            assertFalse(params.containsKey("lm_head.weight"), "a tied model has no head of its own");
            assertTrue(saved.get("token_embedding.weight").contentEquals(params.get("token_embedding.weight").getArray()));
        }
    }

    @Test
    void aStorageFieldOutsideItsValuesNamesTheConfigFile(@TempDir Path tmp) throws Exception {
        Path dir = checkpoint(neurips(false), tmp.resolve("storage"));
        editConfig(dir, Map.of("weight_mode", "bogus"));
        assertContains(loadFailure(dir), dir.resolve("config.json") + ": config: field 'weight_mode' must be one of"
                + " [single, fused], got 'bogus'");
        editConfig(dir, Map.of("weight_mode", "single", "slstm_backend_layout", "sideways"));
        assertContains(loadFailure(dir), dir.resolve("config.json") + ": config: field 'slstm_backend_layout' must be"
                + " one of [cuda, vanilla], got 'sideways'");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> ImportOptions.declaredBy(dir.resolve("config.json"))).getMessage(),
                dir.resolve("config.json") + ": config: field 'slstm_backend_layout'");
    }

    @Test
    void validVariantsPassAndLoad(@TempDir Path tmp) throws Exception {
        List<Path> dirs = List.of(
                checkpoint(neurips(false), tmp.resolve("untied")),
                checkpoint(neurips(true), tmp.resolve("tied")),
                checkpoint(neurips(true), tmp.resolve("tied-with-head")),
                checkpoint(TestModels.large(50, 16), tmp.resolve("large")),
                checkpoint(TestModels.large(50, 16), tmp.resolve("large-fused-hf")));
        // upstream's state_dict of a tied model holds lm_head.weight too
        editTensors(dirs.get(2), t -> t.put("lm_head.weight", t.get("token_embedding.weight")));
        // xLSTM Large with fused projections and Hugging Face names
        editTensors(dirs.get(4), t -> {
            for (int i = 0; t.containsKey("backbone.blocks." + i + ".norm_mlstm.weight"); i++) {
                String p = "backbone.blocks." + i + ".";
                t.put(p + "mlstm_layer.qkv_opreact.weight",
                        cat(t, p + "mlstm_layer.", "q.weight", "k.weight", "v.weight", "ogate_preact.weight"));
                t.put(p + "mlstm_layer.ifgate_preact.weight", cat(t, p + "mlstm_layer.", "igate_preact.weight", "fgate_preact.weight"));
                t.put(p + "mlstm_layer.ifgate_preact.bias", cat(t, p + "mlstm_layer.", "igate_preact.bias", "fgate_preact.bias"));
                t.put(p + "ffn.proj_up_gate_z.weight", cat(t, p + "ffn.", "proj_up_gate.weight", "proj_up.weight"));
            }
            t.put("backbone.embeddings.weight", t.remove("embedding.weight"));
        });
        editConfig(dirs.get(4), Map.of("weight_mode", "fused"));
        for (Path dir : dirs) {
            XLstmConfig config = XLstmConfig.read(dir);
            UpstreamCheckpoint.checkBeforeAllocating(config, SafeTensors.readCheckpointHeader(dir),
                    dir.toString(), UpstreamCheckpoint.physicalMemoryBytes());
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = UpstreamCheckpoint.load(dir, manager);
                assertEquals(config, model.getConfig(), dir.getFileName().toString());
            }
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
}
