package ai.djl.xlstm.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.inference.Predictor;
import ai.djl.inference.streaming.ChunkedBytesSupplier;
import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.model.XLstmLanguageModel;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Item 14.1-2: the bundled model's folder served as DJL Serving serves a model: its {@code
 * serving.properties} read into Criteria arguments and options (DJL Serving's {@code
 * ModelInfo}), {@code Criteria<Input, Output>}, JSON requests in the format of DJL Serving's LLM
 * handlers; one request, a list of prompts, a batch of requests with a bad one among them, and a
 * stream. (DJL Serving itself is not a dependency: this is what its {@code ModelInfo} does for a
 * Java-engine model, step by step.)
 */
class ServingTest {

    static final String PROMPT = ZooModelTest.PROMPT;

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

    /**
     * The Criteria DJL Serving builds for a model folder (ModelInfo.load and downloadModel): keys
     * of serving.properties with the {@code option.} prefix are options, the others arguments;
     * with a batch size above 1 it adds {@code batchifier=stack}.
     */
    static Criteria<Input, Output> asDjlServingWould(Path dir, int batchSize) throws Exception {
        Properties prop = new Properties();
        try (Reader r = Files.newBufferedReader(dir.resolve("serving.properties"), StandardCharsets.UTF_8)) {
            prop.load(r);
        }
        Map<String, Object> arguments = new LinkedHashMap<>();
        Map<String, String> options = new LinkedHashMap<>();
        for (String key : prop.stringPropertyNames()) {
            if (key.startsWith("option.")) {
                options.put(key.substring("option.".length()), prop.getProperty(key));
            } else {
                arguments.put(key, prop.getProperty(key));
            }
        }
        Criteria.Builder<Input, Output> b = Criteria.builder()
                .setTypes(Input.class, Output.class)
                .optModelUrls(dir.toUri().toString())
                .optModelName(dir.getFileName().toString())
                .optEngine(prop.getProperty("engine"))
                .optArguments(arguments)
                .optOptions(options)
                .optDevice(Device.cpu());
        if (arguments.containsKey("translatorFactory")) {
            b.optArgument("translatorFactory", arguments.get("translatorFactory"));
        }
        if (batchSize > 1) {
            b.optArgument("batchifier", "stack");
        }
        return b.build();
    }

    static Input request(String json) {
        Input in = new Input();
        in.addProperty("Content-Type", "application/json");
        in.add("data", json);
        return in;
    }

    static JsonElement body(Output out) {
        return JsonParser.parseString(out.getData().getAsString());
    }

    /** What {@link Generator} makes of {@code prompt} on the bundled checkpoint. */
    static GenerationResult expected(String prompt, GenerationConfig config) {
        try (NDManager request = manager.newSubManager()) {
            return new Generator(direct, request, codec).generate(prompt, config);
        }
    }

    /** The bundled generation_config.json greedy (do_sample false), with {@code n} new tokens. */
    static GenerationConfig greedy(int n) {
        return GenerationConfig.builder().maxNewTokens(n).repetitionPenalty(1.1f).eosTokenIds(Set.of(8191L))
                .bosTokenId(8191L).build();
    }

    @Test
    void theFolderServesJsonRequestsWithPerRequestParameters() throws Exception {
        assertTrue(Files.readString(folder.resolve("serving.properties")).contains("option.hasParameter=false"));
        try (ZooModel<Input, Output> model = asDjlServingWould(folder, 4).loadModel();
                Predictor<Input, Output> p = model.newPredictor()) {
            // one prompt, greedy by a request parameter over the folder's sampling defaults
            Output out = p.predict(request("{\"inputs\": \"" + PROMPT + "\", \"parameters\": {\"max_new_tokens\": 12,"
                    + " \"do_sample\": false}}"));
            assertEquals(200, out.getCode(), out.getData().getAsString());
            assertEquals("application/json", out.getProperty("Content-Type", null));
            JsonObject answer = body(out).getAsJsonObject();
            GenerationResult want = expected(PROMPT, greedy(12));
            assertEquals(want.text(), answer.get("generated_text").getAsString());
            JsonObject details = answer.getAsJsonObject("details");
            assertEquals("length", details.get("finish_reason").getAsString());
            assertEquals(12, details.get("generated_tokens").getAsInt());
            assertFalse(details.has("seed"), "greedy: nothing sampled, no seed");

            // sampling with a given seed: the generator's tokens with that seed, and the seed reported
            out = p.predict(request("{\"inputs\": \"" + PROMPT + "\", \"parameters\": {\"max_new_tokens\": 12,"
                    + " \"temperature\": 0.7, \"seed\": 1, \"details\": true}}"));
            answer = body(out).getAsJsonObject();
            GenerationResult sampled = expected(PROMPT, GenerationConfig.builder().maxNewTokens(12).temperature(0.7f)
                    .topP(0.95f).repetitionPenalty(1.1f).eosTokenIds(Set.of(8191L)).seed(1).build());
            assertEquals(sampled.text(), answer.get("generated_text").getAsString());
            details = answer.getAsJsonObject("details");
            assertEquals(1, details.get("seed").getAsLong());
            JsonArray tokens = details.getAsJsonArray("tokens");
            assertEquals(12, tokens.size());
            for (int i = 0; i < 12; i++) {
                assertEquals(sampled.tokens()[i], tokens.get(i).getAsJsonObject().get("id").getAsLong());
            }

            // a list of prompts is a batch: a list of answers, each what the prompt gets alone
            out = p.predict(request("{\"inputs\": [\"" + PROMPT + "\", \"Mr. Darcy\", \"\"], \"parameters\":"
                    + " {\"max_new_tokens\": 12, \"do_sample\": false, \"return_full_text\": true}}"));
            JsonArray list = body(out).getAsJsonArray();
            assertEquals(3, list.size());
            assertEquals(PROMPT + want.text(), list.get(0).getAsJsonObject().get("generated_text").getAsString());
            assertEquals("Mr. Darcy" + expected("Mr. Darcy", greedy(12)).text(),
                    list.get(1).getAsJsonObject().get("generated_text").getAsString());
            assertEquals(expected("", greedy(12)).text(), list.get(2).getAsJsonObject().get("generated_text")
                    .getAsString(), "an empty prompt starts from the end-of-text token");
        }
    }

    /** A batch of requests (DJL Serving's batchPredict) with bad ones among them: only they fail. */
    @Test
    void aBadRequestFailsAloneWithA400NamingTheProblem() throws Exception {
        try (ZooModel<Input, Output> model = asDjlServingWould(folder, 4).loadModel();
                Predictor<Input, Output> p = model.newPredictor()) {
            String good = "{\"inputs\": \"" + PROMPT + "\", \"parameters\": {\"max_new_tokens\": 8,"
                    + " \"do_sample\": false}}";
            Map<String, String> bad = new LinkedHashMap<>();
            bad.put("{\"inputs\": \"x\", \"parameters\": {\"temperature\": \"hot\"}}", "'temperature'");
            bad.put("{\"inputs\": \"x\", \"parameters\": {\"temprature\": 0.5}}", "did you mean 'temperature'");
            bad.put("{\"inputs\": \"x\", \"parameters\": {\"top_p\": 1.5}}", "'top_p'");
            bad.put("{\"inputs\": \"x\", \"parameters\": {\"do_sample\": false, \"temperature\": 0.5}}", "'do_sample'");
            bad.put("{\"inputs\": \"" + PROMPT + "\", \"parameters\": {\"max_length\": 3}}", "max_length 3");
            bad.put("{\"inputs\": [\"a\", 3]}", "'inputs'");
            bad.put("{\"parameters\": {}}", "'inputs'");
            bad.put("{\"inputs\": \"x\", \"params\": {}}", "unknown request field 'params'");
            bad.put("{\"inputs\": \"x\"", "not valid JSON");
            bad.put("{\"inputs\": [\"a\", \"b\"], \"stream\": true}", "stream");
            List<Input> batch = new ArrayList<>();
            batch.add(request(good));
            bad.keySet().forEach(b -> batch.add(request(b)));
            batch.add(request(good));
            List<Output> outs = p.batchPredict(batch);
            assertEquals(batch.size(), outs.size());
            String text = expected(PROMPT, greedy(8)).text();
            for (int i : new int[] {0, outs.size() - 1}) {
                assertEquals(200, outs.get(i).getCode());
                assertEquals(text, body(outs.get(i)).getAsJsonObject().get("generated_text").getAsString());
            }
            int i = 1;
            for (Map.Entry<String, String> e : bad.entrySet()) {
                Output out = outs.get(i++);
                assertEquals(400, out.getCode(), e.getKey());
                JsonObject error = body(out).getAsJsonObject();
                assertEquals(400, error.get("code").getAsInt());
                assertTrue(error.get("error").getAsString().contains(e.getValue()), e.getKey() + " -> " + error);
            }
            // the model keeps serving
            assertEquals(200, p.predict(request(good)).getCode());
        }
    }

    /** "stream": true answers with JSON lines, one per token, while the tokens are generated. */
    @Test
    void streamingAnswersOneJsonLinePerToken() throws Exception {
        try (ZooModel<Input, Output> model = asDjlServingWould(folder, 1).loadModel();
                Predictor<Input, Output> p = model.newPredictor()) {
            List<Input> requests = List.of(
                    request("{\"inputs\": \"" + PROMPT + "\", \"parameters\": {\"max_new_tokens\": 16, \"do_sample\":"
                            + " false}, \"stream\": true}"),
                    request("{\"inputs\": \"Mr. Darcy\", \"parameters\": {\"max_new_tokens\": 16, \"do_sample\":"
                            + " false}, \"stream\": true}"));
            List<Output> outs = p.batchPredict(requests);
            for (int r = 0; r < 2; r++) {
                String prompt = r == 0 ? PROMPT : "Mr. Darcy";
                Output out = outs.get(r);
                assertEquals(200, out.getCode());
                assertEquals("application/jsonlines", out.getProperty("Content-Type", null));
                ChunkedBytesSupplier chunks = assertInstanceOf(ChunkedBytesSupplier.class, out.getData());
                List<JsonObject> lines = new ArrayList<>();
                while (chunks.hasNext()) {
                    String chunk = new String(chunks.nextChunk(2, TimeUnit.MINUTES), StandardCharsets.UTF_8);
                    for (String line : chunk.split("\n")) {
                        if (!line.isEmpty()) {
                            lines.add(JsonParser.parseString(line).getAsJsonObject());
                        }
                    }
                }
                GenerationResult want = expected(prompt, greedy(16));
                assertEquals(want.tokens().length, lines.size(), "one line per token: " + lines);
                StringBuilder text = new StringBuilder();
                for (int i = 0; i < lines.size(); i++) {
                    JsonObject token = lines.get(i).getAsJsonObject("token");
                    assertEquals(want.tokens()[i], token.get("id").getAsLong());
                    assertEquals(want.logProbs()[i], token.get("log_prob").getAsDouble(), 1e-5); // a batch of two rounds differently
                    text.append(token.get("text").getAsString());
                    assertEquals(i == lines.size() - 1, lines.get(i).has("generated_text"), "line " + i);
                }
                JsonObject last = lines.get(lines.size() - 1);
                assertEquals(want.text(), last.get("generated_text").getAsString());
                assertEquals(want.text(), text.toString());
                assertEquals(want.finishReason() == ai.djl.xlstm.generate.FinishReason.LENGTH ? "length" : "eos_token",
                        last.getAsJsonObject("details").get("finish_reason").getAsString());
            }
        }
    }

    /** Item 14.4 through Input: sampling without a seed draws a fresh one, reported; the seed reproduces. */
    @Test
    void samplingWithoutASeedReportsAFreshSeedThatReproducesTheText() throws Exception {
        try (ZooModel<Input, Output> model = asDjlServingWould(folder, 1).loadModel();
                Predictor<Input, Output> p = model.newPredictor()) {
            List<Long> seeds = new ArrayList<>();
            List<String> texts = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Input plain = new Input();
                plain.add("data", PROMPT); // plain text: the folder's settings (do_sample true, no seed)
                JsonObject answer = body(p.predict(plain)).getAsJsonObject();
                seeds.add(answer.getAsJsonObject("details").get("seed").getAsLong());
                texts.add(answer.get("generated_text").getAsString());
            }
            assertEquals(3, Set.copyOf(seeds).size(), "a fresh seed per request: " + seeds);
            assertNotEquals(texts.get(0), texts.get(1), "different samples");
            JsonObject again = body(p.predict(request("{\"inputs\": \"" + PROMPT + "\", \"parameters\": {\"seed\": "
                    + seeds.get(1) + "}}"))).getAsJsonObject();
            assertEquals(texts.get(1), again.get("generated_text").getAsString(), "the reported seed reproduces it");
            assertEquals(seeds.get(1), again.getAsJsonObject("details").get("seed").getAsLong());
        }
    }

    /**
     * The README's warning: {@code blockFactory} is an argument. With an {@code option.} prefix
     * DJL Serving passes it to the engine as an option, and the folder does not load.
     */
    @Test
    void blockFactoryIsAPlainKeyNotAnOption(@TempDir Path tmp) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("xlstm-austen-tiny"));
        try (java.util.stream.Stream<Path> files = Files.list(folder)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        Files.writeString(dir.resolve("serving.properties"), Files.readString(dir.resolve("serving.properties"))
                .replace("blockFactory=", "option.blockFactory="));
        Criteria<Input, Output> c = asDjlServingWould(dir, 1);
        Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> c.loadModel().close());
        assertTrue(String.valueOf(e.getMessage()).contains(".pt file not found"), e.toString());
    }
}
