package ai.djl.xlstm.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.modality.nlp.generate.CausalLMOutput;
import ai.djl.modality.nlp.generate.SearchConfig;
import ai.djl.modality.nlp.generate.TextGenerator;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.generate.FinishReason;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** The bundled test model through DJL's Criteria: every way to load it, every translator. */
class ZooModelTest {

    static final String NAME = "xlstm-austen-tiny";
    static final String PROMPT = "It is a truth universally acknowledged";

    static <I, O> Criteria.Builder<I, O> byName(Class<I> in, Class<O> out) {
        return Criteria.builder().setTypes(in, out).optGroupId(XLstmModelZoo.GROUP_ID).optArtifactId(NAME);
    }

    /** The bundled model loaded by our own importer, outside DJL's zoo. */
    static XLstmLanguageModel direct(NDManager manager, Path dir) throws Exception {
        return UpstreamCheckpoint.load(dir, manager);
    }

    @Test
    void catalogHashesMatchTheBundledFiles() throws Exception {
        int bundled = 0;
        for (ZooCatalog.Entry entry : ZooCatalog.load().entries()) {
            if (entry.bundled() == null) {
                continue;
            }
            bundled++;
            for (Map.Entry<String, String> f : entry.bundled().entrySet()) {
                MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
                try (InputStream in = ZooCatalog.resource(entry, f.getKey()).openStream()) {
                    sha1.update(in.readAllBytes());
                }
                assertEquals(f.getValue(), HexFormat.of().formatHex(sha1.digest()), entry.name() + "/" + f.getKey());
            }
        }
        assertEquals(2, bundled, "xlstm-austen-small and xlstm-austen-tiny are bundled");
    }

    @Test
    void loadsByGroupAndArtifactIdAndByDjlUrl() throws Exception {
        String byId;
        try (ZooModel<String, String> model = byName(String.class, String.class)
                .optArgument("max_new_tokens", 20).optArgument("seed", 3).build().loadModel();
                Predictor<String, String> p = model.newPredictor()) {
            byId = p.predict(PROMPT);
        }
        assertFalse(byId.isBlank(), "a completion");
        Criteria<String, String> url = Criteria.builder().setTypes(String.class, String.class)
                .optModelUrls("djl://" + XLstmModelZoo.GROUP_ID + "/" + NAME)
                .optArgument("max_new_tokens", 20).optArgument("seed", 3).build();
        try (ZooModel<String, String> model = url.loadModel(); Predictor<String, String> p = model.newPredictor()) {
            assertEquals(byId, p.predict(PROMPT), "djl:// URL and group/artifact id load the same model");
        }
    }

    @Test
    void completionEqualsTheGeneratorOnTheSameCheckpoint() throws Exception {
        try (ZooModel<String, GenerationResult> model = byName(String.class, GenerationResult.class)
                .optArgument("max_new_tokens", 20).optArgument("temperature", 0.7).optArgument("seed", 5)
                .build().loadModel();
                Predictor<String, GenerationResult> p = model.newPredictor();
                NDManager manager = NDManager.newBaseManager();
                HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(model.getModelPath().resolve("tokenizer.json"))) {
            GenerationResult zoo = p.predict(PROMPT);
            assertEquals(20, zoo.tokens().length);
            assertEquals(FinishReason.LENGTH, zoo.finishReason());
            XLstmLanguageModel lm = direct(manager, model.getModelPath());
            // the bundled generation_config.json (top_p 0.95, repetition_penalty 1.1, EOS 8191),
            // overridden by the Criteria arguments
            GenerationConfig config = GenerationConfig.builder().maxNewTokens(20).temperature(0.7f).seed(5)
                    .topP(0.95f).repetitionPenalty(1.1f).eosTokenIds(java.util.Set.of(8191L)).build();
            GenerationResult own = new Generator(lm, manager, codec).generate(PROMPT, config);
            assertArrayEquals(own.tokens(), zoo.tokens());
            assertEquals(own.text(), zoo.text());
        }
    }

    @Test
    void streamingYieldsTheSameTextPieceByPiece() throws Exception {
        String whole;
        try (ZooModel<String, String> model = byName(String.class, String.class)
                .optArgument("max_new_tokens", 30).optArgument("seed", 3).build().loadModel();
                Predictor<String, String> p = model.newPredictor()) {
            whole = p.predict(PROMPT);
        }
        try (ZooModel<String, TextStream> model = byName(String.class, TextStream.class)
                .optArgument("max_new_tokens", 30).optArgument("seed", 3).build().loadModel();
                Predictor<String, TextStream> p = model.newPredictor()) {
            assertTrue(p.supportsStreaming());
            StringBuilder text = new StringBuilder();
            int pieces = 0;
            try (TextStream stream = p.streamingPredict(PROMPT).getIterativeOutput()) {
                while (stream.hasNext()) {
                    text.append(stream.next());
                    pieces++;
                }
                assertEquals(whole, stream.result().text());
            }
            assertEquals(whole, text.toString());
            assertTrue(pieces > 5, "streamed in pieces, got " + pieces);
            // closing early stops the stream
            try (TextStream stream = p.streamingPredict(PROMPT).getIterativeOutput()) {
                stream.next();
                stream.close();
                assertFalse(stream.hasNext());
                assertThrows(IllegalStateException.class, stream::result);
            }
        }
    }

    @Test
    void badGenerationArgumentsFailAtLoadModelNamingThem() {
        for (Object[] bad : new Object[][] {{"top_p", 1.5}, {"max_new_tokens", "many"}, {"temperature", -1},
                {"num_beams", 0}, {"repetition_penalty", "NaN"}}) {
            Criteria<String, String> c = byName(String.class, String.class).optArgument((String) bad[0], bad[1]).build();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, c::loadModel, bad[0].toString());
            assertTrue(e.getMessage().contains("'" + bad[0] + "'"), e.getMessage());
        }
    }

    @Test
    void tokenIdsToLogitsEqualTheImporter() throws Exception {
        try (ZooModel<NDList, NDList> model = byName(NDList.class, NDList.class).build().loadModel();
                Predictor<NDList, NDList> p = model.newPredictor();
                NDManager manager = NDManager.newBaseManager()) {
            NDArray tokens = manager.create(new long[][] {{10, 20, 30, 40, 50}});
            NDList out = p.predict(new NDList(tokens));
            assertEquals(new ai.djl.ndarray.types.Shape(1, 5, 8192), out.get(0).getShape());
            XLstmLanguageModel lm = direct(manager, model.getModelPath());
            ParameterStore ps = new ParameterStore(manager, false);
            // tokens alone run from the zero state and return the state after them (issue 14, item 14)
            ai.djl.xlstm.model.LmOutput expected = lm.forward(ps, tokens, lm.zeroState(manager, tokens.getDevice(), 1), false);
            assertArrayEquals(expected.logits().toFloatArray(), out.get(0).toFloatArray(), 0f);
            NDList state = expected.state().toNDList();
            assertEquals(1 + state.size(), out.size(), "the logits and the state");
            for (int i = 0; i < state.size(); i++) {
                assertArrayEquals(state.get(i).toFloatArray(), out.get(1 + i).toFloatArray(), 0f, "state array " + i);
            }
            // the logits-only path sums in another order: equal to rounding
            assertArrayEquals(lm.logits(ps, tokens, false).toFloatArray(), out.get(0).toFloatArray(), 1e-5f);
            assertEquals(manager, out.get(0).getManager(), "outputs belong to the input's manager");
        }
    }

    /** Item 16: a logits request with a state of the wrong length says what the state must hold. */
    @Test
    void aStateOfTheWrongLengthSaysHowManyArraysTheModelTakes() throws Exception {
        try (ZooModel<NDList, NDList> model = byName(NDList.class, NDList.class).build().loadModel();
                Predictor<NDList, NDList> p = model.newPredictor();
                NDManager manager = NDManager.newBaseManager()) {
            NDArray tokens = manager.create(new long[][] {{10, 20}});
            NDList state = XLstmBlockFactory.languageModel(model).zeroState(manager, tokens.getDevice(), 1).toNDList();
            assertEquals(9, state.size(), "an mLSTM block (conv window, C, n, m) and an sLSTM block (conv, y, c, n, m)");
            assertEquals(10, p.predict(new NDList(tokens).addAll(state)).size(), "logits and the next state");
            NDList shorter = new NDList(tokens).addAll(state.subNDList(1));
            ai.djl.translate.TranslateException e =
                    assertThrows(ai.djl.translate.TranslateException.class, () -> p.predict(shorter));
            assertTrue(e.getMessage().contains("9 arrays (block 0: 4, block 1: 5") && e.getMessage().contains("got 8"),
                    e.getMessage());
        }
    }

    @Test
    void djlTextGeneratorGreedySearchEqualsOurGreedyDecode() throws Exception {
        try (ZooModel<NDList, CausalLMOutput> model = byName(NDList.class, CausalLMOutput.class).build().loadModel();
                Predictor<NDList, CausalLMOutput> p = model.newPredictor();
                NDManager manager = NDManager.newBaseManager();
                HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(model.getModelPath().resolve("tokenizer.json"))) {
            long[] prompt = codec.encode(PROMPT);
            SearchConfig search = new SearchConfig();
            search.setMaxSeqLength(prompt.length + 16);
            TextGenerator generator = new TextGenerator(p, "greedy", search);
            long[] djl = generator.generate(manager.create(new long[][] {prompt})).toLongArray();

            XLstmLanguageModel lm = direct(manager, model.getModelPath());
            GenerationResult own = new Generator(lm, manager, codec)
                    .generate(prompt, GenerationConfig.builder().maxNewTokens(16).build());
            long[] expected = new long[prompt.length + 16];
            System.arraycopy(prompt, 0, expected, 0, prompt.length);
            System.arraycopy(own.tokens(), 0, expected, prompt.length, 16);
            assertArrayEquals(expected, djl);
        }
    }

    @Test
    void eightThreadsGenerateWhatOneThreadGenerates() throws Exception {
        List<String> prompts = List.of("It is a truth", "Mr. Darcy", "Elizabeth walked", "The weather",
                "She said", "In the morning", "Mrs. Bennet", "Never had");
        try (ZooModel<String, String> model = byName(String.class, String.class)
                .optArgument("max_new_tokens", 12).optArgument("temperature", 0.9).optArgument("top_p", 0.95)
                .optArgument("seed", 11).build().loadModel()) {
            List<String> expected = new ArrayList<>();
            try (Predictor<String, String> p = model.newPredictor()) {
                for (String prompt : prompts) {
                    expected.add(p.predict(prompt));
                }
            }
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                for (int round = 0; round < 3; round++) {
                    List<Future<String>> futures = new ArrayList<>();
                    for (String prompt : prompts) {
                        futures.add(pool.submit(() -> {
                            try (Predictor<String, String> p = model.newPredictor()) {
                                return p.predict(prompt);
                            }
                        }));
                    }
                    for (int i = 0; i < prompts.size(); i++) {
                        assertEquals(expected.get(i), futures.get(i).get(), "round " + round + ", prompt " + i);
                    }
                }
            } finally {
                pool.shutdownNow();
            }
            System.out.printf("[zoo] 8 threads x 3 rounds: 24 generations equal the single-thread outputs%n");
        }
    }

    @Test
    void bundledModelsCarryTheWholeFileChecksum() throws Exception {
        for (ZooCatalog.Entry entry : ZooCatalog.load().entries()) {
            if (entry.bundled() != null) {
                Path file = Path.of(ZooCatalog.resource(entry, "model.safetensors").toURI());
                Map<String, String> metadata = SafeTensors.readMetadata(file);
                assertEquals(SafeTensors.FORMAT_VERSION, metadata.get(SafeTensors.FORMAT_KEY), entry.name());
                assertTrue(metadata.get(SafeTensors.CHECKSUM_KEY).matches("[0-9a-f]{8}"), entry.name());
                try (NDManager manager = NDManager.newBaseManager()) {
                    SafeTensors.load(file, manager); // checks the checksum
                }
            }
        }
    }

    @Test
    void aCorruptedCopyInTheCacheIsRefusedNamingTheFileAndTheFolderToDelete() throws Exception {
        Path cached;
        try (ZooModel<NDList, NDList> model = byName(NDList.class, NDList.class).build().loadModel()) {
            cached = model.getModelPath().resolve("model.safetensors");
        }
        byte[] original = Files.readAllBytes(cached);
        try {
            byte[] corrupted = original.clone();
            corrupted[corrupted.length - 3] ^= 1; // a low bit of the last weight: a plausible value
            Files.write(cached, corrupted);
            Criteria<NDList, NDList> criteria = byName(NDList.class, NDList.class).build();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, criteria::loadModel);
            Path folder = ZooCatalog.cacheFolder(ZooCatalog.load().entry(NAME)).toAbsolutePath().normalize();
            assertTrue(e.getMessage().contains(cached + " is corrupted"), e.getMessage());
            assertTrue(e.getMessage().contains("in DJL's cache: delete the folder " + folder + " and load the model"
                    + " again"), e.getMessage());
            assertTrue(cached.toAbsolutePath().normalize().startsWith(folder), folder + " holds " + cached);
            // what the message says to do gives a fresh copy, which loads
            try (java.util.stream.Stream<Path> files = Files.walk(folder)) {
                for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
            try (ZooModel<NDList, NDList> model = criteria.loadModel()) {
                assertEquals(cached, model.getModelPath().resolve("model.safetensors"));
                assertArrayEquals(original, Files.readAllBytes(cached), "a fresh copy of the bundled file");
            }
        } finally {
            if (Files.exists(cached) && !Arrays.equals(original, Files.readAllBytes(cached))) {
                Files.write(cached, original);
            }
        }
    }

    @Test
    void bundledFolderHasWhatDjlNeeds() throws Exception {
        try (ZooModel<String, String> model = byName(String.class, String.class).build().loadModel()) {
            Path dir = model.getModelPath();
            for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "generation_config.json",
                    "serving.properties")) {
                assertTrue(Files.isRegularFile(dir.resolve(f)), f + " in " + dir);
            }
        }
    }
}
