package ai.djl.xlstm.zoo;

import static ai.djl.xlstm.zoo.ZooModelTest.PROMPT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import ai.djl.xlstm.generate.FinishReason;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Criteria arguments of the text translators: any order, the Hugging Face names, unknown names
 * refused. Each expected output comes from {@link Generator} with the settings written out.
 */
class GenerationArgumentsTest {

    /** The bundled tiny model's folder (its generation_config.json samples: T 0.8, top-p 0.95). */
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

    /** The bundled folder's defaults, as a builder. */
    private static GenerationConfig.Builder bundled() {
        return GenerationConfig.builder().temperature(0.8f).topP(0.95f).repetitionPenalty(1.1f).eosTokenIds(Set.of(8191L));
    }

    /** A copy of the tiny model with this generation_config.json and these extra serving.properties lines. */
    private static Path copy(Path dir, String generationConfig, String servingExtra) throws Exception {
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(tiny)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        Files.writeString(dir.resolve("generation_config.json"), generationConfig);
        Files.writeString(dir.resolve("serving.properties"),
                Files.readString(dir.resolve("serving.properties")) + servingExtra + "\n");
        return dir;
    }

    /** Loads {@code folder} (null: the bundled model by name) with {@code args} passed in their order. */
    private static ZooModel<String, GenerationResult> load(Path folder, Map<String, ?> args) throws Exception {
        Criteria.Builder<String, GenerationResult> b = folder == null
                ? ZooModelTest.byName(String.class, GenerationResult.class)
                : Criteria.builder().setTypes(String.class, GenerationResult.class).optModelPath(folder)
                        .optTranslatorFactory(new XLstmTranslatorFactory());
        args.forEach(b::optArgument);
        return b.build().loadModel();
    }

    private static GenerationResult generate(Path folder, Map<String, ?> args, String prompt) throws Exception {
        try (ZooModel<String, GenerationResult> model = load(folder, args);
                Predictor<String, GenerationResult> p = model.newPredictor()) {
            return p.predict(prompt);
        }
    }

    /** What {@link Generator} makes of {@code prompt} with {@code config} on the bundled checkpoint. */
    private static GenerationResult expected(String prompt, GenerationConfig config) {
        try (NDManager request = manager.newSubManager()) {
            return new Generator(direct, request, codec).generate(prompt, config);
        }
    }

    private static IllegalArgumentException refusedAtLoad(Path folder, Map<String, ?> args) {
        return assertThrows(IllegalArgumentException.class, () -> load(folder, args).close(), args.toString());
    }

    /** The rotations of {@code items}: each item comes first, in the middle and last once. */
    private static <T> List<List<T>> rotations(List<T> items) {
        List<List<T>> out = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            List<T> r = new ArrayList<>(items.subList(i, items.size()));
            r.addAll(items.subList(0, i));
            out.add(r);
        }
        return out;
    }

    private static void assertLoadsInSeveralOrders(Path folder, Map<String, Object> args, GenerationConfig config)
            throws Exception {
        GenerationResult want = expected(PROMPT, config);
        for (List<String> order : rotations(new ArrayList<>(args.keySet()))) {
            Map<String, Object> ordered = new LinkedHashMap<>();
            order.forEach(k -> ordered.put(k, args.get(k)));
            GenerationResult got = generate(folder, ordered, PROMPT);
            assertArrayEquals(want.tokens(), got.tokens(), "arguments in the order " + order);
        }
    }

    /**
     * Item 14: beam search over the sampling folder needs num_beams after temperature and top_p if
     * each argument were validated as it comes; sampling over a beam-search folder needs num_beams
     * first. Both load with num_beams first, in the middle and last (the old code validated in the
     * order of a Set.of, which changes from JVM to JVM, and so failed one of the two in every JVM).
     */
    @Test
    void numBeamsLoadsWhateverTheOrderOfTheArguments(@TempDir Path tmp) throws Exception {
        Map<String, Object> beams = new LinkedHashMap<>();
        beams.put("num_beams", 4);
        beams.put("temperature", 0);
        beams.put("top_p", 1);
        assertLoadsInSeveralOrders(null, withMax(beams, 6),
                bundled().numBeams(4).temperature(0).topP(1).maxNewTokens(6).build());
        assertArrayEquals(expected(PROMPT, bundled().numBeams(4).temperature(0).topP(1).maxNewTokens(6).build()).tokens(),
                generate(null, Map.of("num_beams", 4, "do_sample", false, "max_new_tokens", 6), PROMPT).tokens());

        Path beamFolder = copy(tmp.resolve("beams"), "{\"num_beams\": 4, \"max_new_tokens\": 6, \"eos_token_id\": 8191}", "");
        Map<String, Object> sampling = new LinkedHashMap<>();
        sampling.put("num_beams", 1);
        sampling.put("temperature", 0.7);
        sampling.put("top_p", 0.9);
        sampling.put("seed", 0);
        assertLoadsInSeveralOrders(beamFolder, sampling, GenerationConfig.builder().temperature(0.7f).topP(0.9f)
                .maxNewTokens(6).eosTokenIds(Set.of(8191L)).build());

        // beam search alone over a folder that samples contradicts it, whatever the order
        IllegalArgumentException e = refusedAtLoad(null, Map.of("num_beams", 4));
        assertTrue(e.getMessage().contains("beam search") && e.getMessage().contains("do_sample=false")
                && e.getMessage().contains("num_beams=4"), e.getMessage());
    }

    private static Map<String, Object> withMax(Map<String, Object> args, int max) {
        Map<String, Object> m = new LinkedHashMap<>(args);
        m.put("max_new_tokens", max);
        return m;
    }

    /** Item 15: a typo or an unknown name is refused with the known names; DJL's own keys load. */
    @Test
    void unknownArgumentsAreRefusedWithTheKnownNames(@TempDir Path tmp) throws Exception {
        IllegalArgumentException e = refusedAtLoad(null, Map.of("max_new_tokns", 5));
        assertTrue(e.getMessage().contains("unknown Criteria argument 'max_new_tokns' (did you mean 'max_new_tokens'?)")
                && e.getMessage().contains(GenerationArguments.NAMES.toString()), e.getMessage());
        e = refusedAtLoad(null, Map.of("maxLength", 50));
        assertTrue(e.getMessage().contains("did you mean 'max_length'"), e.getMessage());
        e = refusedAtLoad(null, Map.of("frobnicate", 1));
        assertTrue(e.getMessage().contains("'frobnicate'") && !e.getMessage().contains("did you mean"), e.getMessage());
        // a generation argument with the token-id translator is refused, not ignored
        e = assertThrows(IllegalArgumentException.class, () -> ZooModelTest.byName(NDList.class, NDList.class)
                .optArgument("max_new_tokens", 5).build().loadModel().close());
        assertTrue(e.getMessage().contains("[max_new_tokens] apply to the text translators"), e.getMessage());

        // DJL's own arguments, and the keys of the folder's serving.properties, load
        Map<String, Object> djl = new LinkedHashMap<>();
        djl.put("engine", "PyTorch");
        djl.put("translatorFactory", XLstmTranslatorFactory.class.getName());
        djl.put("blockFactory", XLstmBlockFactory.class.getName());
        djl.put("batch_size", "1");
        djl.put("max_new_tokens", 3);
        assertEquals(3, generate(null, djl, PROMPT).tokens().length);
        Path folder = copy(tmp.resolve("served"), Files.readString(tiny.resolve("generation_config.json")),
                "custom_property=1");
        assertEquals(3, generate(folder, Map.of("max_new_tokens", 3), PROMPT).tokens().length);
    }

    /** Item 15: do_sample=false is greedy over a folder that samples; true samples. */
    @Test
    void doSampleChoosesBetweenGreedyAndSampling(@TempDir Path tmp) throws Exception {
        GenerationResult greedy = expected(PROMPT, bundled().temperature(0).maxNewTokens(12).build());
        assertArrayEquals(greedy.tokens(), generate(null, Map.of("do_sample", false, "max_new_tokens", 12), PROMPT).tokens());
        assertArrayEquals(greedy.tokens(), generate(null, Map.of("do_sample", "false", "max_new_tokens", 12), PROMPT).tokens());
        GenerationResult sampled = expected(PROMPT, bundled().temperature(0.7f).seed(5).maxNewTokens(12).build());
        assertArrayEquals(sampled.tokens(), generate(null,
                Map.of("do_sample", true, "temperature", 0.7, "seed", 5, "max_new_tokens", 12), PROMPT).tokens());
        assertFalse(java.util.Arrays.equals(greedy.tokens(), sampled.tokens()), "sampling differs from greedy");

        assertTrue(refusedAtLoad(null, Map.of("do_sample", true, "temperature", 0)).getMessage()
                .contains("do_sample is true"));
        assertTrue(refusedAtLoad(null, Map.of("do_sample", false, "temperature", 0.7)).getMessage()
                .contains("do_sample' = false chooses greedily"));
        assertTrue(refusedAtLoad(null, Map.of("do_sample", "yes")).getMessage()
                .contains("'do_sample' must be true or false"));

        // a Hugging Face folder with do_sample false and a temperature is greedy; do_sample=true
        // samples at the folder's temperature
        Path folder = copy(tmp.resolve("greedy"),
                "{\"do_sample\": false, \"temperature\": 0.7, \"max_new_tokens\": 12, \"eos_token_id\": 8191}", "");
        GenerationConfig.Builder plain = GenerationConfig.builder().maxNewTokens(12).eosTokenIds(Set.of(8191L));
        assertArrayEquals(expected(PROMPT, plain.build()).tokens(), generate(folder, Map.of(), PROMPT).tokens());
        assertArrayEquals(expected(PROMPT, plain.temperature(0.7f).seed(2).build()).tokens(),
                generate(folder, Map.of("do_sample", true, "seed", 2), PROMPT).tokens());
    }

    /** Item 15: max_length counts the prompt's tokens and the new ones, per request. */
    @Test
    void maxLengthCountsThePromptAndTheNewTokens() throws Exception {
        try (ZooModel<String, GenerationResult> model = load(null, Map.of("max_length", 20, "do_sample", false));
                Predictor<String, GenerationResult> p = model.newPredictor()) {
            for (String prompt : List.of(PROMPT, "Mr. Darcy")) {
                GenerationResult r = p.predict(prompt);
                if (r.finishReason() == FinishReason.LENGTH) {
                    assertEquals(20, r.promptTokens() + r.tokens().length, prompt);
                }
                assertArrayEquals(expected(prompt, bundled().temperature(0).maxNewTokens(20 - r.promptTokens()).build())
                        .tokens(), r.tokens(), prompt);
            }
        }
        try (ZooModel<String, GenerationResult> model = load(null, Map.of("max_length", 3));
                Predictor<String, GenerationResult> p = model.newPredictor()) {
            TranslateException e = assertThrows(TranslateException.class, () -> p.predict(PROMPT));
            assertTrue(e.getMessage().contains("more than max_length 3"), e.getMessage());
        }
        assertTrue(refusedAtLoad(null, Map.of("max_length", 20, "max_new_tokens", 5)).getMessage()
                .contains("'max_new_tokens' and 'max_length' both given"));
    }

    /** Item 15: eos_token_id (an id or a list) ends a sequence, bos_token_id starts one; ids are checked. */
    @Test
    void eosAndBosTokenIdsAreUsedAndPadTokenIdIsChecked() throws Exception {
        long[] greedy = expected(PROMPT, bundled().temperature(0).maxNewTokens(12).build()).tokens();
        long stopAt = greedy[4];
        int first = 0;
        while (greedy[first] != stopAt) {
            first++;
        }
        for (Object ids : List.of(stopAt, List.of(stopAt, 8191L), "[" + stopAt + ", 8191]", String.valueOf(stopAt))) {
            GenerationResult r = generate(null, Map.of("do_sample", false, "max_new_tokens", 12, "eos_token_id", ids), PROMPT);
            assertEquals(FinishReason.EOS, r.finishReason(), "eos_token_id " + ids);
            assertArrayEquals(java.util.Arrays.copyOf(greedy, first + 1), r.tokens(), "eos_token_id " + ids);
        }
        assertTrue(refusedAtLoad(null, Map.of("eos_token_id", 8192)).getMessage()
                .contains("eos_token_id 8192 is outside the model's vocabulary [0, 8192)"));
        assertTrue(refusedAtLoad(null, Map.of("eos_token_id", List.of(1, -3))).getMessage()
                .contains("'eos_token_id' must be an integer in [0, "));
        // bos_token_id starts an empty prompt
        assertArrayEquals(expected("", bundled().temperature(0).maxNewTokens(5).bosTokenId(8191L).build()).tokens(),
                generate(null, Map.of("bos_token_id", 8191, "do_sample", false, "max_new_tokens", 5), "").tokens());
        assertTrue(refusedAtLoad(null, Map.of("bos_token_id", 8192)).getMessage().contains("bos_token_id 8192 is outside"));
        assertEquals(3, generate(null, Map.of("pad_token_id", 0, "max_new_tokens", 3), PROMPT).tokens().length);
        assertTrue(refusedAtLoad(null, Map.of("pad_token_id", 9000)).getMessage()
                .contains("pad_token_id 9000 is outside the model's vocabulary"));
        assertTrue(refusedAtLoad(null, Map.of("pad_token_id", -1)).getMessage().contains("'pad_token_id' must be"));
    }

    /** Item 15: stop_strings is the Hugging Face name of stop. */
    @Test
    void stopStringsIsAnotherNameForStop() throws Exception {
        String text = generate(null, Map.of("do_sample", false, "max_new_tokens", 20), PROMPT).text();
        String stop = text.substring(text.length() / 2, text.length() / 2 + 3);
        GenerationResult viaStop = generate(null, Map.of("do_sample", false, "max_new_tokens", 20, "stop", stop), PROMPT);
        GenerationResult viaHf = generate(null, Map.of("do_sample", false, "max_new_tokens", 20, "stop_strings",
                List.of(stop)), PROMPT);
        assertEquals(FinishReason.STOP, viaHf.finishReason());
        assertEquals(viaStop.text(), viaHf.text());
        assertEquals(text.substring(0, text.indexOf(stop)), viaHf.text());
        assertTrue(refusedAtLoad(null, Map.of("stop", "a", "stop_strings", "b")).getMessage()
                .contains("'stop' and 'stop_strings' both given"));
    }

    /** Item 16: a value beyond its type's range names the argument and the allowed range. */
    @Test
    void valuesOutOfRangeNameTheArgumentAndTheRange() {
        for (Object big : List.of(2147483648L, "2147483648", 1e12)) {
            IllegalArgumentException e = refusedAtLoad(null, Map.of("max_new_tokens", big));
            assertTrue(e.getMessage().contains("'max_new_tokens' must be an integer in [0, 2147483647]"), e.getMessage());
        }
        assertTrue(refusedAtLoad(null, Map.of("num_beams", 65)).getMessage()
                .contains("'num_beams' must be an integer in [1, 64]"));
        assertTrue(refusedAtLoad(null, Map.of("top_k", 2.5)).getMessage().contains("'top_k' must be an integer"));
        assertTrue(refusedAtLoad(null, Map.of("seed", "99999999999999999999")).getMessage().contains("'seed'"));
    }

    /**
     * Item 19: the fallback stands in for a missing generation_config.json only (the command line
     * samples by default), and the arguments apply over either.
     */
    @Test
    void fallbackStandsInForAMissingGenerationConfigOnly(@TempDir Path tmp) throws Exception {
        Map<String, Object> sampling = Map.of("temperature", 0.8f, "top_p", 0.95f);
        GenerationConfig none = GenerationArguments.read(tmp, sampling, Map.of("max_new_tokens", 5),
                java.util.OptionalLong.of(7)).config();
        assertEquals(GenerationConfig.builder().temperature(0.8f).topP(0.95f).maxNewTokens(5).eosTokenIds(Set.of(7L))
                .bosTokenId(7L).build(), none);
        Path folder = copy(tmp.resolve("greedy"), "{\"temperature\": 0, \"max_new_tokens\": 12}", "");
        GenerationConfig file = GenerationArguments.read(folder, sampling, Map.of(), java.util.OptionalLong.empty())
                .config();
        assertEquals(0f, file.temperature(), "the folder's file wins over the fallback");
        assertEquals(1f, file.topP(), "a field the file leaves out takes the builder's default, not the fallback's");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> GenerationArguments.read(tmp,
                Map.of("temprature", 1), Map.of(), java.util.OptionalLong.empty())).getMessage().contains("temprature"));
    }

    /** Item 19: do_sample=false agrees with sampling values that are off (temperature 0, top-p 1). */
    @Test
    void doSampleFalseAcceptsSamplingValuesThatAreOff(@TempDir Path tmp) throws Exception {
        GenerationConfig c = GenerationArguments.read(tmp, Map.of("do_sample", false, "temperature", 0, "top_p", 1,
                "top_k", 0, "min_p", 0, "num_beams", 2), java.util.OptionalLong.empty()).config();
        assertEquals(0f, c.temperature());
        assertEquals(2, c.numBeams());
        assertThrows(IllegalArgumentException.class, () -> GenerationArguments.read(tmp,
                Map.of("do_sample", false, "top_p", 0.9), java.util.OptionalLong.empty()));
    }
}
