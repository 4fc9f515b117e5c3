package ai.djl.xlstm.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.util.ProgressBar;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Checkpoint folders through DJL's {@code Criteria}: the official xLSTM 7B artifact downloaded
 * from a Hugging Face endpoint (here a local folder that mimics it, with Hugging Face names and a
 * transformers-style config), an upstream folder in NX-AI's spelling with the block factory, and a
 * folder our tools wrote with {@code optModelPath} alone. Each gives the official logits.
 */
class ZooCheckpointFoldersTest {

    private static Path reference(String name) throws URISyntaxException {
        return Path.of(ZooCheckpointFoldersTest.class.getResource("/reference/" + name).toURI());
    }

    /** Large-a's config in the transformers spelling, with the upstream kernel fields of xLSTM 7B. */
    private static final String HF_CONFIG = """
            {"architectures": ["xLSTMForCausalLM"], "model_type": "xlstm", "hidden_size": 64,
             "num_hidden_layers": 2, "num_heads": 4, "vocab_size": 50, "use_bias": false, "norm_eps": 1e-06,
             "add_out_norm": true, "qk_dim_factor": 0.5, "v_dim_factor": 1.0, "chunk_size": 16, "eps": 1e-06,
             "ffn_proj_factor": 2.6667, "ffn_round_up_to_multiple_of": 64, "gate_soft_cap": 15.0,
             "output_logit_soft_cap": 30.0, "weight_mode": "single",
             "chunkwise_kernel": "chunkwise--triton_xl_chunk", "sequence_kernel": "native_sequence__triton",
             "step_kernel": "triton", "mode": "inference", "autocast_kernel_dtype": "bfloat16",
             "inference_state_dtype": "float32", "return_last_states": true, "tie_word_embeddings": false,
             "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1, "torch_dtype": "bfloat16"}
            """;

    /** Large-a's weights under Hugging Face names, as two shards with an index. */
    private static void writeHuggingFaceWeights(Path dir, NDManager manager) throws Exception {
        Map<String, NDArray> all = SafeTensors.load(reference("large-a").resolve("model.safetensors"), manager);
        Map<String, NDArray> a = new LinkedHashMap<>();
        Map<String, NDArray> b = new LinkedHashMap<>();
        StringBuilder index = new StringBuilder("{\"metadata\": {}, \"weight_map\": {");
        int i = 0;
        for (Map.Entry<String, NDArray> e : all.entrySet()) {
            String name = e.getKey().equals("embedding.weight") ? "backbone.embeddings.weight"
                    : e.getKey().replace(".mlstm_layer.q.", ".mlstm_layer.query.")
                            .replace(".mlstm_layer.k.", ".mlstm_layer.key.")
                            .replace(".mlstm_layer.v.", ".mlstm_layer.value.");
            boolean first = i++ % 2 == 0;
            (first ? a : b).put(name, e.getValue());
            index.append(i > 1 ? "," : "").append('"').append(name).append("\": \"model-0000")
                    .append(first ? 1 : 2).append("-of-00002.safetensors\"");
        }
        index.append("}}");
        Files.createDirectories(dir);
        SafeTensors.save(dir.resolve("model-00001-of-00002.safetensors"), a, Map.of("format", "pt"));
        SafeTensors.save(dir.resolve("model-00002-of-00002.safetensors"), b, Map.of("format", "pt"));
        Files.writeString(dir.resolve("model.safetensors.index.json"), index.toString());
    }

    /** The logits of the reference tokens through {@code criteria}, checked against the official ones. */
    private static void assertOfficialLogits(Criteria<NDList, NDList> criteria, String what) throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                ZooModel<NDList, NDList> model = criteria.loadModel();
                Predictor<NDList, NDList> predictor = model.newPredictor()) {
            Map<String, NDArray> io = SafeTensors.load(reference("large-a").resolve("io.safetensors"), manager);
            NDArray logits = predictor.predict(new NDList(io.get("tokens"))).get(0);
            NDArray official = io.get("logits");
            assertEquals(official.getShape(), logits.getShape(), what);
            float diff = logits.sub(official).abs().max().getFloat();
            System.out.printf("[zoo] %s: max|logits - official| = %.3e%n", what, diff);
            assertTrue(diff <= 1e-4f, what + ": max|diff| " + diff);
        }
    }

    @Test
    void xlstm7bArtifactDownloadsFromTheHuggingFaceEndpoint(@TempDir Path tmp) throws Exception {
        Path repo = tmp.resolve("endpoint/NX-AI/xLSTM-7b/resolve/main");
        try (NDManager manager = NDManager.newBaseManager()) {
            writeHuggingFaceWeights(repo, manager);
        }
        Files.writeString(repo.resolve("config.json"), HF_CONFIG, StandardCharsets.UTF_8);
        Files.copy(Path.of("../xlstm-examples/data/gpt2-8k-tokenizer.json"), repo.resolve("tokenizer.json"));
        String previous = System.getProperty("HF_ENDPOINT");
        System.setProperty("HF_ENDPOINT", tmp.resolve("endpoint").toUri().toString());
        try {
            assertOfficialLogits(Criteria.builder().setTypes(NDList.class, NDList.class)
                    .optGroupId("ai.djl.xlstm").optArtifactId("xlstm-7b").optProgress(new ProgressBar()).build(),
                    "xlstm-7b through a mimicked Hugging Face download");
        } finally {
            if (previous == null) {
                System.clearProperty("HF_ENDPOINT");
            } else {
                System.setProperty("HF_ENDPOINT", previous);
            }
        }
    }

    @Test
    void upstreamFolderLoadsWithTheBlockFactory(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("nx-ai-spelling");
        try (NDManager manager = NDManager.newBaseManager()) {
            writeHuggingFaceWeights(dir, manager);
        }
        // NX-AI's own spelling of the Hugging Face config: embedding_dim and num_blocks
        Files.writeString(dir.resolve("config.json"), HF_CONFIG.replace("\"hidden_size\"", "\"embedding_dim\"")
                .replace("\"num_hidden_layers\"", "\"num_blocks\""), StandardCharsets.UTF_8);
        assertOfficialLogits(Criteria.builder().setTypes(NDList.class, NDList.class).optModelPath(dir)
                .optArgument("blockFactory", "ai.djl.xlstm.zoo.XLstmBlockFactory")
                .optOption("hasParameter", "false").build(), "upstream folder, NX-AI spelling");
    }

    @Test
    void folderWeWroteLoadsWithOptModelPathAlone(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("saved");
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(reference("large-a"), manager);
            UpstreamCheckpoint.save(model, dir);
        }
        assertTrue(Files.isRegularFile(dir.resolve("serving.properties")), "save writes serving.properties");
        assertOfficialLogits(Criteria.builder().setTypes(NDList.class, NDList.class).optModelPath(dir).build(),
                "saved folder with optModelPath alone");
    }

    @Test
    void checkpointThatDoesNotFitItsConfigIsRefusedAtLoad(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("misfit");
        try (NDManager manager = NDManager.newBaseManager()) {
            writeHuggingFaceWeights(dir, manager);
        }
        Files.writeString(dir.resolve("config.json"), HF_CONFIG.replace("\"num_heads\": 4", "\"num_heads\": 2")
                .replace("\"qk_dim_factor\": 0.5", "\"qk_dim_factor\": 0.25"), StandardCharsets.UTF_8);
        Criteria<NDList, NDList> c = Criteria.builder().setTypes(NDList.class, NDList.class).optModelPath(dir)
                .optArgument("blockFactory", "ai.djl.xlstm.zoo.XLstmBlockFactory")
                .optOption("hasParameter", "false").build();
        Exception e = assertThrows(Exception.class, c::loadModel);
        String msg = String.valueOf(e.getMessage());
        assertTrue(msg.contains("mlstm_layer.q.weight") && msg.contains("mlstm_layer.k.weight"),
                "one error listing each mismatch: " + msg);
    }
}
