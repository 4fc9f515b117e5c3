package ai.djl.xlstm.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.metric.Metrics;
import ai.djl.modality.cv.Image;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Items 14.3, 14.4, 14.5, 14.7 (type pairs) and 14.10 through {@code Criteria}: settings per
 * request on the String path, fresh seeds, batched {@code batchPredict}, the supported pairs in the
 * error for a wrong one, and an empty prompt.
 */
class RequestSettingsTest {

    static final String PROMPT = ZooModelTest.PROMPT;
    static final List<String> PROMPTS = List.of(PROMPT, "Mr. Darcy", "Elizabeth walked", "The weather",
            "She said", "In the morning", "Mrs. Bennet", "Never had");

    private static Path tiny;
    private static NDManager manager;
    private static HuggingFaceTextCodec codec;
    private static XLstmLanguageModel direct;

    @BeforeAll
    static void openTheBundledCheckpoint() throws Exception {
        try (ZooModel<NDList, NDList> model = ZooModelTest.byName(NDList.class, NDList.class).build().loadModel()) {
            tiny = model.getModelPath();
        }
        manager = NDManager.newBaseManager();
        codec = HuggingFaceTextCodec.load(tiny.resolve("tokenizer.json"));
        direct = ZooModelTest.direct(manager, tiny);
    }

    @AfterAll
    static void close() {
        codec.close();
        manager.close();
    }

    private static GenerationResult expected(String prompt, GenerationConfig config) {
        try (NDManager request = manager.newSubManager()) {
            return new Generator(direct, request, codec).generate(prompt, config);
        }
    }

    /** The bundled generation_config.json (T 0.8, top-p 0.95, repetition penalty 1.1, EOS 8191). */
    private static GenerationConfig.Builder bundled() {
        return GenerationConfig.builder().temperature(0.8f).topP(0.95f).repetitionPenalty(1.1f)
                .eosTokenIds(Set.of(8191L)).bosTokenId(8191L);
    }

    /** Item 3: one model, each request with its own settings, by the Hugging Face names. */
    @Test
    void aGenerationRequestCarriesItsOwnSettings() throws Exception {
        try (ZooModel<GenerationRequest, GenerationResult> model = ZooModelTest
                .byName(GenerationRequest.class, GenerationResult.class).optArgument("max_new_tokens", 10)
                .build().loadModel();
                Predictor<GenerationRequest, GenerationResult> p = model.newPredictor()) {
            GenerationResult greedy = p.predict(GenerationRequest.builder(PROMPT).parameter("do_sample", false).build());
            assertArrayEquals(expected(PROMPT, bundled().temperature(0).topP(1).maxNewTokens(10).build()).tokens(),
                    greedy.tokens());
            GenerationResult sampled = p.predict(GenerationRequest.builder(PROMPT).parameter("temperature", 0.7)
                    .parameter("seed", 4).parameter("max_new_tokens", 14).build());
            assertArrayEquals(expected(PROMPT, bundled().temperature(0.7f).seed(4).maxNewTokens(14).build()).tokens(),
                    sampled.tokens());
            assertEquals(4L, sampled.seed());
            // a request's contradiction with the model's settings fails that request
            TranslateException e = assertThrows(TranslateException.class,
                    () -> p.predict(GenerationRequest.builder(PROMPT).parameter("max_length", 3).build()));
            assertTrue(e.getMessage().contains("more than max_length 3"), e.getMessage());
            assertEquals(10, p.predict(new GenerationRequest(PROMPT, null)).tokens().length, "the model's settings");
        }
        try (ZooModel<GenerationRequest, String> model = ZooModelTest.byName(GenerationRequest.class, String.class)
                .build().loadModel();
                Predictor<GenerationRequest, String> p = model.newPredictor()) {
            assertEquals(expected(PROMPT, bundled().temperature(0).topP(1).maxNewTokens(6).build()).text(),
                    p.predict(GenerationRequest.builder(PROMPT).parameter("do_sample", false)
                            .parameter("max_new_tokens", 6).build()));
        }
        // names and values are checked when the request is built
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GenerationRequest.builder(PROMPT).parameter("temprature", 0.5).build());
        assertTrue(e.getMessage().contains("unknown request parameter 'temprature' (did you mean 'temperature'?)"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> GenerationRequest.builder(PROMPT).parameter("top_p", 2).build());
        assertTrue(e.getMessage().contains("request parameter 'top_p'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GenerationRequest.builder(PROMPT)
                .parameter("do_sample", false).parameter("temperature", 0.5).build());
        assertTrue(e.getMessage().contains("'do_sample' = false chooses greedily"), e.getMessage());
    }

    /** Item 4: do_sample from generation_config.json without a seed samples afresh each time. */
    @Test
    void samplingWithoutASeedDrawsAFreshSeedAndReportsIt() throws Exception {
        List<GenerationResult> runs = new ArrayList<>();
        try (ZooModel<String, GenerationResult> model = ZooModelTest.byName(String.class, GenerationResult.class)
                .optArgument("max_new_tokens", 20).build().loadModel();
                Predictor<String, GenerationResult> p = model.newPredictor()) {
            for (int i = 0; i < 3; i++) {
                runs.add(p.predict(PROMPT));
            }
        }
        Set<Long> seeds = new HashSet<>();
        for (GenerationResult r : runs) {
            assertNotNull(r.seed(), "a sampled result reports its seed");
            seeds.add(r.seed());
        }
        assertEquals(3, seeds.size(), "a fresh seed per request");
        assertFalse(Arrays.equals(runs.get(0).tokens(), runs.get(1).tokens())
                && Arrays.equals(runs.get(1).tokens(), runs.get(2).tokens()), "three runs, three samples");
        // the reported seed reproduces the text, through Criteria and through the generator
        long seed = runs.get(2).seed();
        try (ZooModel<String, GenerationResult> model = ZooModelTest.byName(String.class, GenerationResult.class)
                .optArgument("max_new_tokens", 20).optArgument("seed", seed).build().loadModel();
                Predictor<String, GenerationResult> p = model.newPredictor()) {
            for (int i = 0; i < 2; i++) {
                GenerationResult again = p.predict(PROMPT);
                assertArrayEquals(runs.get(2).tokens(), again.tokens(), "a given seed is reproducible");
                assertEquals(seed, again.seed());
            }
        }
        assertArrayEquals(runs.get(2).tokens(), expected(PROMPT, bundled().seed(seed).maxNewTokens(20).build()).tokens());
        // greedy: no seed to report
        try (ZooModel<String, GenerationResult> model = ZooModelTest.byName(String.class, GenerationResult.class)
                .optArgument("max_new_tokens", 4).optArgument("do_sample", false).build().loadModel();
                Predictor<String, GenerationResult> p = model.newPredictor()) {
            assertNull(p.predict(PROMPT).seed());
        }
    }

    /**
     * Item 5: batchPredict decodes the prompts together (one pass through the translator, DJL's
     * metrics count one preprocessing; one fresh seed for the batch, prompt i sampling with seed +
     * i) and gives each prompt what it gets alone.
     */
    @Test
    void batchPredictDecodesThePromptsAsOneBatch() throws Exception {
        try (ZooModel<String, GenerationResult> model = ZooModelTest.byName(String.class, GenerationResult.class)
                .optArgument("max_new_tokens", 24).optArgument("do_sample", false).build().loadModel();
                Predictor<String, GenerationResult> p = model.newPredictor()) {
            List<GenerationResult> alone = new ArrayList<>();
            long t0 = System.nanoTime();
            for (String prompt : PROMPTS) {
                alone.add(p.predict(prompt));
            }
            long t1 = System.nanoTime();
            Metrics metrics = new Metrics();
            p.setMetrics(metrics);
            List<GenerationResult> batch = p.batchPredict(PROMPTS);
            long t2 = System.nanoTime();
            assertEquals(PROMPTS.size(), batch.size());
            for (int i = 0; i < PROMPTS.size(); i++) {
                assertArrayEquals(alone.get(i).tokens(), batch.get(i).tokens(), PROMPTS.get(i));
                assertEquals(alone.get(i).text(), batch.get(i).text(), PROMPTS.get(i));
                assertEquals(alone.get(i).finishReason(), batch.get(i).finishReason(), PROMPTS.get(i));
            }
            assertEquals(1, metrics.getMetric("Preprocess").size(), "the batch went through the translator at once");
            System.out.printf("[zoo] %d prompts x 24 greedy tokens: one at a time %.0f ms, batchPredict %.0f ms%n",
                    PROMPTS.size(), (t1 - t0) / 1e6, (t2 - t1) / 1e6);
        }
        try (ZooModel<String, GenerationResult> model = ZooModelTest.byName(String.class, GenerationResult.class)
                .optArgument("max_new_tokens", 8).build().loadModel();
                Predictor<String, GenerationResult> p = model.newPredictor()) {
            List<GenerationResult> batch = p.batchPredict(PROMPTS);
            long first = batch.get(0).seed();
            for (int i = 0; i < batch.size(); i++) {
                assertEquals(first + i, batch.get(i).seed(), "one decoding batch: prompt i samples with seed + i");
                assertArrayEquals(expected(PROMPTS.get(i), bundled().seed(first + i).maxNewTokens(8).build()).tokens(),
                        batch.get(i).tokens(), "alone with its reported seed");
            }
        }
    }

    /** Item 7: a wrong type pair names the pairs the factory supports, by name and by folder. */
    @Test
    void aWrongTypePairNamesTheSupportedPairs() throws Exception {
        List<Criteria<Image, String>> wrong = List.of(
                ZooModelTest.byName(Image.class, String.class).build(),
                Criteria.builder().setTypes(Image.class, String.class).optModelPath(tiny)
                        .optTranslatorFactory(new XLstmTranslatorFactory()).build());
        for (Criteria<Image, String> c : wrong) {
            ModelNotFoundException e = assertThrows(ModelNotFoundException.class, c::loadModel);
            StringBuilder chain = new StringBuilder();
            for (Throwable t = e; t != null; t = t.getCause()) {
                chain.append(t.getMessage()).append('\n');
            }
            String m = chain.toString();
            for (String pair : List.of("String -> String", "String -> ai.djl.xlstm.zoo.TextStream",
                    "ai.djl.modality.Input -> ai.djl.modality.Output", "ai.djl.ndarray.NDList -> ai.djl.ndarray.NDList",
                    "ai.djl.xlstm.zoo.GenerationRequest -> String", "not ai.djl.modality.cv.Image -> String")) {
                assertTrue(m.contains(pair), pair + " in:\n" + m);
            }
        }
    }

    /** Item 10: an empty prompt starts from the tokenizer's end-of-text token, as the command line does. */
    @Test
    void anEmptyPromptStartsFromTheEndOfTextToken() throws Exception {
        try (ZooModel<String, GenerationResult> model = ZooModelTest.byName(String.class, GenerationResult.class)
                .optArgument("max_new_tokens", 6).optArgument("do_sample", false).build().loadModel();
                Predictor<String, GenerationResult> p = model.newPredictor()) {
            GenerationResult r = p.predict("");
            assertEquals(1, r.promptTokens(), "the BOS token");
            assertArrayEquals(expected("", bundled().temperature(0).topP(1).maxNewTokens(6).build()).tokens(), r.tokens());
        }
    }
}
