package ai.djl.xlstm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Saving a DJL {@link Model} that holds an xLSTM: one call, {@link UpstreamCheckpoint#save(Model,
 * Path)}, writes a complete folder, every save reloads to identical logits, and DJL's own {@code
 * Model.save} / {@code load} still round-trip its parameter files.
 */
class ModelSaveTest {

    private static final long[][] IDS = {{1, 5, 9, 24, 0, 3, 7}};

    private static float[] logits(XLstmLanguageModel block, NDManager manager) {
        try (NDManager scope = manager.newSubManager()) {
            return block.logits(new ParameterStore(scope, false), scope.create(IDS), false).toFloatArray();
        }
    }

    /** A model holding the checkpoint in {@code dir}, its model path {@code dir} as Criteria sets it. */
    private static Model loaded(Path dir) throws Exception {
        Model model = Model.newInstance("xlstm");
        model.setBlock(UpstreamCheckpoint.load(dir, model.getNDManager()));
        model.load(dir, null, Map.of("hasParameter", "false"));
        return model;
    }

    /** DJL's own parameter files still round-trip ({@code Model.save}, then {@code Model.load} with the block set). */
    @Test
    void djlModelSaveAndLoadKeepOutputs(@TempDir Path dir) throws Exception {
        for (XLstmConfig config : List.of(TestModels.neurips(2, List.of(0), 25), TestModels.large(25, 4))) {
            float[] before;
            try (Model model = Model.newInstance("xlstm")) {
                XLstmLanguageModel block = TestModels.randomModel(config, model.getNDManager(), 9, 0.2f);
                model.setBlock(block);
                before = logits(block, model.getNDManager());
                model.save(dir, config.architecture());
            }
            try (Model model = Model.newInstance("xlstm")) {
                XLstmLanguageModel block = XLstmLanguageModel.create(config);
                model.setBlock(block);
                model.load(dir, config.architecture());
                assertArrayEquals(before, logits(block, model.getNDManager()), config.architecture());
            }
        }
    }

    /**
     * Loading allocates the parameters as zeros (the checkpoint overwrites them) but leaves every
     * parameter its own initializer, so a later {@code initialize} draws the usual initial values.
     */
    @Test
    void loadingKeepsEachParametersInitializer(@TempDir Path tmp) throws Exception {
        XLstmConfig config = TestModels.neurips(2, List.of(0), 25);
        Map<String, ai.djl.training.initializer.Initializer> fresh = new java.util.HashMap<>();
        XLstmLanguageModel.create(config).getParameters().forEach(p -> fresh.put(p.getKey(), p.getValue().getInitializer()));
        try (NDManager manager = NDManager.newBaseManager()) {
            UpstreamCheckpoint.save(TestModels.randomModel(config, manager, 2, 0.2f), tmp);
            XLstmLanguageModel loaded = UpstreamCheckpoint.load(tmp, manager);
            loaded.getParameters().forEach(p -> assertEquals(
                    fresh.get(p.getKey()).getClass(), p.getValue().getInitializer().getClass(), p.getKey()));
            assertTrue(fresh.values().stream().anyMatch(i -> i != ai.djl.training.initializer.Initializer.ZEROS),
                    "some parameters are initialized otherwise than with zeros");
        }
    }

    @Test
    void oneCallSavesAFolderThatReloadsToIdenticalLogits(@TempDir Path tmp) throws Exception {
        for (XLstmConfig config : List.of(TestModels.neurips(2, List.of(0), 25), TestModels.large(25, 4))) {
            Path dir = tmp.resolve(config.architecture());
            float[] before;
            try (Model model = Model.newInstance("xlstm")) {
                XLstmLanguageModel block = TestModels.randomModel(config, model.getNDManager(), 9, 0.2f);
                model.setBlock(block);
                before = logits(block, model.getNDManager());
                UpstreamCheckpoint.save(model, dir);
            }
            for (String file : List.of("config.json", "model.safetensors", "serving.properties")) {
                assertTrue(Files.isRegularFile(dir.resolve(file)), config.architecture() + ": " + file);
            }
            assertFalse(Files.exists(dir.resolve("tokenizer.json")), "a model made in memory has no tokenizer to copy");
            try (Model model = loaded(dir)) {
                assertArrayEquals(before, logits((XLstmLanguageModel) model.getBlock(), model.getNDManager()), 0f,
                        config.architecture() + ": the saved folder reloads to identical logits");
            }
        }
    }

    @Test
    void oneCallCarriesTheTokenizerAndGenerationDefaultsOfTheModelsFolder(@TempDir Path tmp) throws Exception {
        XLstmConfig config = TestModels.neurips(1, List.of(), 25);
        Path source = tmp.resolve("source");
        Path run = tmp.resolve("run");
        float[] before;
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel block = TestModels.randomModel(config, manager, 3, 0.2f);
            before = logits(block, manager);
            UpstreamCheckpoint.save(block, source);
            UpstreamCheckpoint.save(block, run.resolve("checkpoint-000001"));
        }
        Files.writeString(source.resolve("tokenizer.json"), "{\"model\": {\"vocab\": {}}}", StandardCharsets.UTF_8);
        Files.writeString(source.resolve("generation_config.json"), "{\"max_new_tokens\": 7}", StandardCharsets.UTF_8);
        // a training run's folder: the checkpoint named by latest holds the tokenizer
        Files.copy(source.resolve("tokenizer.json"), run.resolve("checkpoint-000001/tokenizer.json"));
        Files.writeString(run.resolve(UpstreamCheckpoint.LATEST), "checkpoint-000001\n", StandardCharsets.UTF_8);
        for (Path from : List.of(source, run)) {
            Path out = tmp.resolve("saved-" + from.getFileName());
            try (Model model = loaded(from)) {
                UpstreamCheckpoint.save(model, out);
            }
            assertArrayEquals(Files.readAllBytes(source.resolve("tokenizer.json")), Files.readAllBytes(out.resolve("tokenizer.json")),
                    from + ": tokenizer.json copied");
            assertEquals(from == source, Files.exists(out.resolve("generation_config.json")),
                    from + ": generation_config.json copied where the folder has one");
            try (Model model = loaded(out)) {
                assertArrayEquals(before, logits((XLstmLanguageModel) model.getBlock(), model.getNDManager()), 0f,
                        from + ": reloads to identical logits");
                UpstreamCheckpoint.save(model, out); // into its own folder: the files stay
                assertTrue(Files.size(out.resolve("tokenizer.json")) > 0, "saving into the model's own folder keeps its files");
            }
        }
        try (Model other = Model.newInstance("other")) {
            other.setBlock(Linear.builder().setUnits(2).build());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> UpstreamCheckpoint.save(other, tmp.resolve("x")));
            assertTrue(e.getMessage().contains("ai.djl.nn.core.Linear"), e.getMessage());
        }
    }
}
