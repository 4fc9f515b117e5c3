package ai.djl.xlstm.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.training.TokenWindowDataset;
import ai.djl.xlstm.training.TrainingSession;
import ai.djl.xlstm.training.TrainingSettings;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Every way a zoo model is saved gives a complete folder that reloads through {@code Criteria} as
 * {@code String -> String} with the same greedy completion: the one call on a {@code ZooModel},
 * and a training run's folder (a {@link TrainingSession} from the model or from its folder).
 */
class ModelFolderSaveTest {

    private static final String PROMPT = "Elizabeth was";

    private static final List<String> FOLDER = List.of("config.json", "model.safetensors", "tokenizer.json",
            "generation_config.json", "serving.properties");

    /**
     * The greedy completion (16 tokens: the end-of-text token 8191 does not stop it) of the folder
     * {@code dir}, loaded by its path as a DJL user would.
     */
    static String greedy(Path dir) throws Exception {
        try (ZooModel<String, String> model = Criteria.builder().setTypes(String.class, String.class)
                .optModelPath(dir).optTranslatorFactory(new XLstmTranslatorFactory())
                .optArgument("do_sample", false).optArgument("max_new_tokens", 16).optArgument("eos_token_id", 8190)
                .build().loadModel();
                Predictor<String, String> p = model.newPredictor()) {
            return p.predict(PROMPT);
        }
    }

    /** {@code dir} (a model folder, or a run's folder and its newest checkpoint) is complete. */
    private static void assertCompleteFolder(Path dir, Path source) throws Exception {
        for (String f : FOLDER) {
            assertTrue(Files.isRegularFile(UpstreamCheckpoint.resolveFolder(dir).resolve(f)), f + " in " + dir);
            if (!f.startsWith("model") && !f.startsWith("config")) {
                assertTrue(Files.isRegularFile(dir.resolve(f)), f + " in " + dir);
            }
        }
        for (String f : UpstreamCheckpoint.TEXT_FILES) {
            assertArrayEquals(Files.readAllBytes(source.resolve(f)), Files.readAllBytes(dir.resolve(f)), f + " copied");
        }
    }

    @Test
    void aZooModelSavedInOneCallReloadsAsTextWithTheSameCompletion(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("saved");
        try (ZooModel<NDList, NDList> model = ZooModelTest.byName(NDList.class, NDList.class).build().loadModel()) {
            String before = greedy(model.getModelPath());
            UpstreamCheckpoint.save(model, out);
            assertCompleteFolder(out, model.getModelPath());
            String after = greedy(out);
            System.out.printf("[save] greedy before save: %s%n[save] after reload:       %s%n", before, after);
            assertTrue(before.length() > 16, "a completion of 16 tokens: " + before);
            assertEquals(before, after, "the reloaded folder completes the prompt as the model did");
        }
    }

    @Test
    void aFineTuningRunsFolderReloadsAsTextWithTheTrainedWeights(@TempDir Path tmp) throws Exception {
        TrainingSettings settings = TrainingSettings.builder().steps(2).batchSize(2).learningRate(1e-2f).seed(4).build();
        try (ZooModel<NDList, NDList> model = ZooModelTest.byName(NDList.class, NDList.class).build().loadModel();
                HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(model.getModelPath().resolve("tokenizer.json"))) {
            long[] tokens = codec.encode(ZooModelTest.PROMPT.repeat(20));
            TokenWindowDataset train = TokenWindowDataset.builder().setTokens(tokens).setSequenceLength(16).build();
            String before = greedy(model.getModelPath());

            // a session on the caller's model: trains it in place, leaves it open
            Path run = tmp.resolve("run");
            try (TrainingSession session = TrainingSession.fromPretrained(model, settings, run)) {
                session.train(train, null, false);
            }
            Path saved = tmp.resolve("saved");
            UpstreamCheckpoint.save(model, saved); // the model is still open: the trained weights
            assertCompleteFolder(saved, model.getModelPath());
            assertCompleteFolder(run, model.getModelPath());
            String trained = greedy(saved);
            assertEquals(trained, greedy(run), "the run's folder, by its path alone, holds the trained model");
            assertEquals(trained, greedy(UpstreamCheckpoint.resolveFolder(run)), "so does its checkpoint folder");
            System.out.printf("[run] before: %s%n[run] after 2 updates at lr 1e-2: %s%n", before, trained);
            assertFalse(before.equals(trained), "training changed the completion");

            // a session on the model's folder: the run's folder carries its tokenizer too
            Path fromFolder = tmp.resolve("from-folder");
            try (TrainingSession session = TrainingSession.fromPretrained(model.getModelPath(), settings, fromFolder, null)) {
                session.train(train, null, false);
            }
            assertCompleteFolder(fromFolder, model.getModelPath());
            assertFalse(greedy(fromFolder).isEmpty(), "a run from a folder reloads as text");
        }
    }
}
