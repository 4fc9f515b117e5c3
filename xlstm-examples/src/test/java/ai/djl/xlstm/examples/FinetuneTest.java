package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.training.TokenWindowDataset;
import ai.djl.xlstm.training.TrainingSession;
import ai.djl.xlstm.training.TrainingSettings;
import ai.djl.xlstm.zoo.HuggingFaceTextCodec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** Fine-tuning the bundled model, then loading the result through Criteria with the path alone. */
class FinetuneTest {

    private static final long[][] TOKENS = {{464, 318, 257, 3872, 11, 290, 262, 1110}};

    private static Path text(Path tmp) throws Exception {
        String book = Files.readString(Path.of("data/corpus/heldout/persuasion.txt"), StandardCharsets.UTF_8);
        return Files.writeString(tmp.resolve("small.txt"), book.substring(0, 30_000));
    }

    private static float[] logitsByPath(Path dir) throws Exception {
        try (ZooModel<NDList, NDList> model = Criteria.builder().setTypes(NDList.class, NDList.class)
                .optModelPath(dir).build().loadModel();
                Predictor<NDList, NDList> p = model.newPredictor();
                NDManager manager = NDManager.newBaseManager()) {
            return p.predict(new NDList(manager.create(TOKENS))).get(0).toFloatArray();
        }
    }

    @Test
    void finetunedWeightsReloadThroughCriteriaWithThePathAlone(@TempDir Path tmp) throws Exception {
        Path base = ModelFolder.zooFolder("xlstm-austen-tiny");
        Path out = tmp.resolve("ft");
        float[] before = logitsByPath(base);
        float[] trained;
        try (HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(base.resolve("tokenizer.json"))) {
            long[][] split = TokenWindowDataset.split(text(tmp), codec, 0.1);
            TokenWindowDataset train = TokenWindowDataset.builder().setTokens(split[0]).setSequenceLength(32)
                    .setSampling(4, true).build();
            TrainingSettings settings = new TrainingSettings(3, 4, 1, 1e-3f, 1e-4f, 1, 0.1f, 1f, 2, 1, 0, 0, 0);
            try (TrainingSession session = TrainingSession.fromPretrained(base, settings, out, null)) {
                session.train(train, null, false);
                XLstmLanguageModel model = (XLstmLanguageModel) session.getBlock();
                NDManager m = session.getModel().getNDManager();
                try (NDManager scratch = m.newSubManager()) {
                    trained = model.logits(new ParameterStore(scratch, false), scratch.create(TOKENS), false).toFloatArray();
                }
            }
        }
        assertFalse(Arrays.equals(before, trained), "fine-tuning changed the model");
        assertArrayEquals(trained, logitsByPath(out), 0f, "the run's folder reloads to identical logits");
        try (ZooModel<String, String> model = Criteria.builder().setTypes(String.class, String.class)
                .optModelPath(out).optTranslatorFactory(new ai.djl.xlstm.zoo.XLstmTranslatorFactory())
                .optArgument("max_new_tokens", 5).build().loadModel();
                Predictor<String, String> p = model.newPredictor()) {
            assertFalse(p.predict("Anne").isEmpty(), "text through the run's serving.properties and tokenizer");
        }
    }

    @Test
    void finetuneCommandTrainsResumesAndGenerates(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("run");
        String[] r = CliRun.run(List.of("finetune", "--model", "xlstm-austen-tiny", "--text", text(tmp).toString(),
                "--out", out.toString(), "--steps", "2", "--batch", "2", "--seq-len", "16", "--checkpoint-every", "1",
                "--validate-every", "1", "--validation-batches", "2"));
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].contains("validation loss"), r[1]);
        String[] more = CliRun.run(List.of("finetune", "--resume", out.toString(), "--steps", "3"));
        assertEquals("0", more[0], more[2]);
        assertTrue(more[1].contains("at step 2 of 3"), more[1]);
        String[] g = CliRun.run(List.of("generate", "--model-path", out.toString(), "--prompt", "Anne", "-n", "4",
                "--json", "--seed", "1"));
        assertEquals("0", g[0], g[2]);
        assertTrue(g[1].contains("\"finish_reason\":\"length\""), g[1]);
    }
}
