package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.generate.FinishReason;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import com.google.gson.Gson;
import com.google.gson.JsonObject;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code xlstm generate} and {@code xlstm chat} on a small random model with the 8k GPT-2 tokenizer. */
class GenerateCommandTest {

    static Path dir;
    static Path model;

    /** Saves the test model (once per JVM). */
    @BeforeAll
    static synchronized void saveModel() throws Exception {
        if (model != null) {
            return;
        }
        dir = Files.createTempDirectory("xlstm-generate");
        Path created = dir;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(created)));
        model = dir.resolve("model");
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", "xlstm-neurips");
        m.put("vocab_size", 8192);
        m.put("embedding_dim", 16);
        m.put("num_blocks", 2);
        m.put("slstm_at", List.of(1));
        m.put("mlstm", Map.of("num_heads", 2));
        m.put("slstm", Map.of("num_heads", 2));
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel lm = XLstmLanguageModel.create(XLstmConfig.fromMap(m));
            lm.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
            UpstreamCheckpoint.save(lm, model);
        }
        // Maven runs the tests in the module folder
        Files.copy(Path.of("data/gpt2-8k-tokenizer.json"), model.resolve("tokenizer.json"));
    }

    /** Runs the CLI with {@code stdin}; returns exit code, stdout, stderr. */
    private static String[] run(String stdin, String... args) {
        return CliRun.run(stdin, List.of(args));
    }

    private static JsonObject json(String... args) {
        String[] r = run("", args);
        assertEquals("0", r[0], r[2]);
        return new Gson().fromJson(r[1].strip(), JsonObject.class);
    }

    private static String[] generate(String... extra) {
        String[] base = {"generate", "--model-path", model.toString()};
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    @Test
    void jsonOutputIsReproducibleWithASeedAndMatchesTheStream() {
        JsonObject a = json(generate("--prompt", "It is a truth", "--max-new-tokens", "12", "--seed", "5", "--json"));
        assertEquals(12, a.getAsJsonArray("tokens").size(), a.toString());
        assertEquals("length", a.get("finish_reason").getAsString());
        assertTrue(a.get("tokens_per_second").getAsDouble() > 0);
        JsonObject b = json(generate("--prompt", "It is a truth", "--max-new-tokens", "12", "--seed", "5", "--json"));
        a.remove("tokens_per_second");
        b.remove("tokens_per_second");
        assertEquals(a, b, "same seed, same output");
        String[] streamed = run("", generate("--prompt", "It is a truth", "--max-new-tokens", "12", "--seed", "5"));
        assertEquals("0", streamed[0], streamed[2]);
        assertEquals(a.get("text").getAsString() + System.lineSeparator(), streamed[1]);
        assertTrue(streamed[2].contains("12 generated"), streamed[2]);
    }

    @Test
    void stateOutThenStateInContinuesTheGeneration() {
        Path state = dir.resolve("state.safetensors");
        JsonObject once = json(generate("--prompt", "Emma Woodhouse", "--max-new-tokens", "10", "--temperature", "0", "--json"));
        JsonObject first = json(generate("--prompt", "Emma Woodhouse", "--max-new-tokens", "5", "--temperature", "0", "--json",
                "--state-out", state.toString()));
        JsonObject second = json(generate("--max-new-tokens", "5", "--temperature", "0", "--json", "--state-in", state.toString()));
        JsonObject joined = first.deepCopy();
        joined.getAsJsonArray("tokens").addAll(second.getAsJsonArray("tokens"));
        assertEquals(once.getAsJsonArray("tokens"), joined.getAsJsonArray("tokens"));
        assertEquals(0, second.get("prompt_tokens").getAsInt());
    }

    @Test
    void badSettingsAreOneLineErrorsNamingTheOption() {
        assertError(run("", generate("--prompt", "x", "--temperature", "-1")), "--temperature");
        assertError(run("", generate("--prompt", "x", "--top-p", "0")), "--top-p");
        assertError(run("", generate("--prompt", "x", "--top-p", "1.5")), "--top-p");
        assertError(run("", generate("--prompt", "x", "--num-beams", "0")), "--num-beams");
        assertError(run("", generate("--prompt", "x", "-n", "-1")), "--max-new-tokens");
        assertError(run("", generate("--prompt", "x", "--state-in", dir.resolve("none").toString())), "session file not found");
        assertError(run("", "generate", "--model-path", dir.resolve("nope").toString(), "--prompt", "x"), "not a folder");
    }

    @Test
    void promptFromStdinAndStopStrings() {
        String[] r = run("It is a truth", generate("--prompt", "-", "--max-new-tokens", "12", "--seed", "5", "--json"));
        assertEquals("0", r[0], r[2]);
        JsonObject fromStdin = new Gson().fromJson(r[1].strip(), JsonObject.class);
        JsonObject fromFlag = json(generate("--prompt", "It is a truth", "--max-new-tokens", "12", "--seed", "5", "--json"));
        assertEquals(fromFlag.get("tokens"), fromStdin.get("tokens"));
        String text = fromFlag.get("text").getAsString();
        String stop = text.substring(text.length() / 2, text.length() / 2 + 2);
        JsonObject stopped = json(generate("--prompt", "It is a truth", "--max-new-tokens", "12", "--seed", "5", "--json",
                "--stop", stop));
        assertEquals("stop", stopped.get("finish_reason").getAsString());
        assertEquals(text.substring(0, text.indexOf(stop)), stopped.get("text").getAsString());
    }

    @Test
    void anXLstmLargeCheckpointGeneratesAndContinues() throws Exception {
        Path large = dir.resolve("large");
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", "xlstm-large");
        m.put("vocab_size", 8192);
        m.put("embedding_dim", 32);
        m.put("num_heads", 2);
        m.put("num_blocks", 2);
        m.put("chunk_size", 4);
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel lm = XLstmLanguageModel.create(XLstmConfig.fromMap(m));
            lm.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
            UpstreamCheckpoint.save(lm, large);
        }
        Files.copy(Path.of("data/gpt2-8k-tokenizer.json"), large.resolve("tokenizer.json"));
        Path state = dir.resolve("large.state");
        String[] common = {"generate", "--model-path", large.toString(), "--temperature", "0", "--json"};
        JsonObject once = json(concat(common, "--prompt", "Mr. Knightley was", "--max-new-tokens", "8"));
        JsonObject first = json(concat(common, "--prompt", "Mr. Knightley was", "--max-new-tokens", "4", "--state-out", state.toString()));
        JsonObject second = json(concat(common, "--max-new-tokens", "4", "--state-in", state.toString()));
        first.getAsJsonArray("tokens").addAll(second.getAsJsonArray("tokens"));
        assertEquals(once.getAsJsonArray("tokens"), first.getAsJsonArray("tokens"));
        // a NeurIPS state does not continue an xLSTM Large model
        Path neuripsState = dir.resolve("neurips.state");
        json(generate("--prompt", "Emma", "--max-new-tokens", "2", "--json", "--state-out", neuripsState.toString()));
        assertError(run("", concat(common, "--state-in", neuripsState.toString())), "belongs to model xlstm-neurips:");
    }

    private static String[] concat(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    @Test
    void beamSearchRunsFromTheCommandLine() {
        JsonObject r = json(generate("--prompt", "The", "--max-new-tokens", "6", "--num-beams", "3", "--json"));
        assertEquals(6, r.getAsJsonArray("tokens").size());
    }

    @Test
    void numBeamsTwoWorksAndTheFormerBeamsIsGone() {
        JsonObject r = json(generate("--prompt", "The", "-n", "5", "--num-beams", "2", "--json"));
        assertEquals(5, r.getAsJsonArray("tokens").size(), r.toString());
        assertEquals("length", r.get("finish_reason").getAsString());
        assertNotEquals("0", run("", generate("--prompt", "The", "-n", "5", "--beams", "2", "--json"))[0],
                "the hidden alias --beams is dropped");
        JsonObject greedy = json(generate("--prompt", "The", "-n", "5", "--num-beams", "1", "--temperature", "0", "--json"));
        assertEquals(5, greedy.getAsJsonArray("tokens").size());
    }

    @Test
    void shortNLimitsTheNewTokensAndTheFormerMaxTokensIsGone() {
        JsonObject r = json(generate("--prompt", "It is a truth", "-n", "5", "--seed", "3", "--json"));
        assertEquals(5, r.getAsJsonArray("tokens").size(), r.toString());
        assertEquals("length", r.get("finish_reason").getAsString());
        assertNotEquals("0", run("", generate("--prompt", "It is a truth", "--max-tokens", "5", "--seed", "3",
                "--json"))[0], "the hidden alias --max-tokens is dropped");
        String[] streamed = run("", generate("--prompt", "It is a truth", "-n", "5", "--seed", "3"));
        assertEquals("0", streamed[0], streamed[2]);
        assertTrue(streamed[2].contains("5 generated") && streamed[2].contains("finish: length"), streamed[2]);
    }

    @Test
    void finishReasonsAreTheOpenAiNames() {
        assertEquals("stop", FinishReason.EOS.jsonName());
        assertEquals("stop", FinishReason.STOP.jsonName());
        assertEquals("length", FinishReason.LENGTH.jsonName());
        for (FinishReason r : FinishReason.values()) {
            assertEquals(r.jsonName().toLowerCase(java.util.Locale.ROOT), r.jsonName(), "lower case: " + r);
        }
    }

    @Test
    void threadsAndDeviceReachTheEngine() {
        String before = System.getProperty(EngineOptions.NUM_THREADS);
        try {
            JsonObject r = json(generate("--prompt", "Emma", "-n", "3", "--threads", "2", "--device", "cpu", "--json"));
            assertEquals(3, r.getAsJsonArray("tokens").size());
            assertEquals("2", System.getProperty(EngineOptions.NUM_THREADS), "--threads sets the engine's property");
        } finally {
            if (before == null) {
                System.clearProperty(EngineOptions.NUM_THREADS);
            } else {
                System.setProperty(EngineOptions.NUM_THREADS, before);
            }
        }
    }

    @Test
    void chatContinuesOneStateAndResumesFromItsSession() {
        Path session = dir.resolve("chat.session");
        String[] r = run("Hello there.\n/save\n", "chat", "--model-path", model.toString(), "--session", session.toString(),
                "--max-new-tokens", "8", "--seed", "1");
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].contains("you> ") && r[1].contains("xlstm> "), r[1]);
        assertTrue(Files.exists(session));
        String[] again = run("And then?\n/quit\n", "chat", "--model-path", model.toString(), "--session", session.toString(),
                "-n", "8", "--seed", "1");
        assertEquals("0", again[0], again[2]);
        assertTrue(again[1].contains("resumed " + session), again[1]);
    }

    static void deleteTree(Path root) {
        try (java.util.stream.Stream<Path> paths = Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException e) {
            // best effort: a temporary folder
        }
    }

    private static void assertError(String[] r, String expected) {
        assertEquals("2", r[0], "exit code; stderr: " + r[2]);
        String err = r[2].strip();
        assertTrue(err.startsWith("error: ") && err.contains(expected), err);
        assertFalse(err.contains("\n"), err);
    }
}
