package ai.djl.xlstm.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.model.XLstmLanguageModel;

import com.google.gson.JsonObject;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.nio.file.Path;

/**
 * The translators a user builds (issue 14, item 15): each builder refuses a bad setting naming it,
 * and a translator it builds serves the bundled tiny model through {@code Criteria.optTranslator}
 * as the factory's would: the folder's {@code generation_config.json} under the builder's
 * arguments.
 */
class TranslatorBuildersTest {

    private static final String PROMPT = ZooModelTest.PROMPT;

    private static BundledFolder bundled;
    private static Path folder;
    private static NDManager manager;
    private static HuggingFaceTextCodec codec;
    private static XLstmLanguageModel direct;

    @BeforeAll
    static void openTheBundledFolder() throws Exception {
        bundled = BundledFolder.open();
        folder = bundled.folder;
        manager = bundled.manager;
        codec = bundled.codec;
        direct = bundled.direct;
    }

    @AfterAll
    static void close() {
        bundled.close();
    }

    private static void refusedNaming(Executable bad, String... names) {
        String message = assertThrows(IllegalArgumentException.class, bad).getMessage();
        for (String name : names) {
            assertTrue(message.contains(name), "'" + name + "' named in: " + message);
        }
    }

    @Test
    void textGenerationBuilderRefusesABadSettingNamingIt() {
        refusedNaming(() -> TextGenerationTranslator.builder(codec).optArgument("temperature", "hot"),
                "translator argument 'temperature'", "hot");
        refusedNaming(() -> TextGenerationTranslator.builder(codec).optArgument("max_new_token", 5),
                "'max_new_token'", "did you mean 'max_new_tokens'");
        refusedNaming(() -> TextGenerationTranslator.builder(codec).optArgument("top_k", null), "'top_k' is null");
        refusedNaming(() -> TextGenerationTranslator.builder(codec).optArgument("stop", "x")
                .optArgument("stop_strings", "y").build(), "'stop' and 'stop_strings'");
        refusedNaming(() -> TextGenerationTranslator.builder(codec).build(Integer.class, String.class),
                "input", "java.lang.Integer");
        refusedNaming(() -> TextGenerationTranslator.builder(codec).build(String.class, Integer.class),
                "output", "java.lang.Integer");
        // Criteria arguments: DJL's own are left to DJL, a bad generation value is named as such
        TextGenerationTranslator.builder(codec, java.util.Map.of("engine", "PyTorch", "top_k", 3)).build();
        refusedNaming(() -> TextGenerationTranslator.builder(codec, java.util.Map.of("top_k", -1)),
                "Criteria argument 'top_k'");
    }

    @Test
    void aBuiltTextGenerationTranslatorGeneratesThroughCriteria() throws Exception {
        TextGenerationTranslator<String, GenerationResult> translator = TextGenerationTranslator.builder(codec)
                .optArgument("max_new_tokens", 12).optArgument("do_sample", false)
                .build(String.class, GenerationResult.class);
        // as the README shows it: a folder and the translator
        try (ZooModel<String, GenerationResult> model = Criteria.builder()
                .setTypes(String.class, GenerationResult.class)
                .optModelPath(folder)
                .optTranslator(translator)
                .build().loadModel();
                Predictor<String, GenerationResult> p = model.newPredictor();
                NDManager request = manager.newSubManager()) {
            GenerationResult built = p.predict(PROMPT);
            // the folder's generation_config.json (repetition_penalty 1.1, EOS 8191) under the arguments
            GenerationResult own = new Generator(direct, request, codec).generate(PROMPT, ServingTest.greedy(12));
            assertEquals(12, built.tokens().length);
            assertArrayEquals(own.tokens(), built.tokens());
            assertEquals(own.text(), built.text());
        }
        // arguments that contradict only with each other's meaning fail the first predict, naming them
        TextGenerationTranslator<String, String> contradicting = TextGenerationTranslator.builder(codec)
                .optArgument("do_sample", true).optArgument("temperature", 0).build();
        try (ZooModel<String, String> model = ZooModelTest.byName(String.class, String.class)
                .optTranslator(contradicting).build().loadModel();
                Predictor<String, String> p = model.newPredictor()) {
            TranslateException e = assertThrows(TranslateException.class, () -> p.predict(PROMPT));
            String message = String.valueOf(e.getCause() == null ? e.getMessage() : e.getCause().getMessage());
            assertTrue(message.contains("translator argument 'temperature' is 0"), message);
        }
    }

    @Test
    void servingBuilderRefusesABadSettingNamingIt() {
        refusedNaming(() -> TextServingTranslator.builder(codec).optArgument("top_p", 2),
                "translator argument 'top_p'");
        refusedNaming(() -> TextServingTranslator.builder(codec).optArgument("maxNewTokens", 5),
                "'maxNewTokens'", "did you mean 'max_new_tokens'");
        refusedNaming(() -> TextServingTranslator.builder(codec).optArgument("max_new_tokens", 5)
                .optArgument("max_length", 9).build(), "'max_new_tokens' and 'max_length'");
    }

    @Test
    void aBuiltServingTranslatorAnswersJsonThroughCriteria() throws Exception {
        TextServingTranslator translator = TextServingTranslator.builder(codec).optArgument("max_new_tokens", 5)
                .build();
        try (ZooModel<Input, Output> model = ZooModelTest.byName(Input.class, Output.class)
                .optTranslator(translator).build().loadModel();
                Predictor<Input, Output> p = model.newPredictor();
                NDManager request = manager.newSubManager()) {
            Output out = p.predict(ServingTest.request("{\"inputs\": \"" + PROMPT + "\", \"parameters\":"
                    + " {\"do_sample\": false}}"));
            assertEquals(200, out.getCode(), out.getData().getAsString());
            JsonObject body = ServingTest.body(out).getAsJsonObject();
            GenerationResult own = new Generator(direct, request, codec).generate(PROMPT, ServingTest.greedy(5));
            assertEquals(own.text(), body.get("generated_text").getAsString());
            assertEquals(5, body.getAsJsonObject("details").get("generated_tokens").getAsInt());
        }
    }

    @Test
    void logitsBuilderRefusesAnOutputItCannotMake() {
        refusedNaming(() -> LogitsTranslator.builder().build(String.class), "output", "java.lang.String");
    }

    @Test
    void aBuiltLogitsTranslatorGivesTheFactorysLogits() throws Exception {
        long[][] tokens = {{10, 20, 30}};
        try (ZooModel<NDList, NDList> built = ZooModelTest.byName(NDList.class, NDList.class)
                .optTranslator(LogitsTranslator.builder().build()).build().loadModel();
                ZooModel<NDList, NDList> factory = ZooModelTest.byName(NDList.class, NDList.class).build().loadModel();
                Predictor<NDList, NDList> a = built.newPredictor();
                Predictor<NDList, NDList> b = factory.newPredictor();
                NDManager request = manager.newSubManager()) {
            NDList mine = a.predict(new NDList(request.create(tokens)));
            NDList theirs = b.predict(new NDList(request.create(tokens)));
            NDArray logits = mine.get(0); // [B, S, V]
            assertEquals(new Shape(1, 3, direct.getConfig().vocabSize()), logits.getShape());
            assertEquals(theirs.size(), mine.size(), "the logits and the state");
            assertTrue(logits.allClose(theirs.get(0), 0, 0, false), "the same logits as the factory's translator");
        }
    }
}
