package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.xlstm.examples.baseline.LstmLanguageModel;
import ai.djl.xlstm.training.TextEvaluation;
import ai.djl.xlstm.zoo.HuggingFaceTextCodec;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code xlstm lstm-baseline}: a step budget, a wall-time budget, its results file and bad options. */
class LstmBaselineCommandTest {

    private static List<String> command(Path tmp, Path out, String... extra) throws Exception {
        String book = Files.readString(Path.of("data/corpus/train/prideprejudice.txt"), StandardCharsets.UTF_8);
        Path text = tmp.resolve("train.txt");
        Path heldout = tmp.resolve("heldout.txt");
        Files.writeString(text, book.substring(0, 30_000), StandardCharsets.UTF_8);
        Files.writeString(heldout, book.substring(30_000, 33_000), StandardCharsets.UTF_8);
        Map<String, String> options = new LinkedHashMap<>();
        String[] base = {"--text", text.toString(), "--tokenizer", "data/gpt2-8k-tokenizer.json",
            "--heldout", heldout.toString(), "--out", out.toString(), "--embedding", "16", "--hidden", "24",
            "--layers", "1", "--batch", "2", "--seq-len", "32", "--warmup", "1", "--validate-every", "0",
            "--segment", "100"};
        for (String[] pairs : new String[][] {base, extra}) {
            for (int i = 0; i < pairs.length; i += 2) {
                options.put(pairs[i], pairs[i + 1]); // an extra option replaces the base one
            }
        }
        List<String> args = new ArrayList<>(List.of("lstm-baseline"));
        options.forEach((k, v) -> args.addAll(List.of(k, v)));
        return args;
    }

    private static JsonObject results(Path out) throws Exception {
        return JsonParser.parseString(Files.readString(out.resolve("results.json"))).getAsJsonObject();
    }

    @Test
    void trainsForItsStepsAndReportsHeldOutPerplexityWithItsSettings(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("run");
        String[] r = CliRun.run(command(tmp, out, "--steps", "4"));
        assertEquals("0", r[0], r[2]);
        JsonObject json = results(out);
        assertEquals(4, json.get("steps").getAsInt());
        assertFalse(json.get("stopped_by_time").getAsBoolean());
        // 8192 x 16 embedding, LSTM 4 x 24 x (16 + 24) + biases, 24 x 8192 head + bias
        assertEquals(8192 * 16 + 4 * 24 * (16 + 24) + 2 * 4 * 24 + 24 * 8192 + 8192, json.get("parameters").getAsLong());
        double ppl = json.get("heldout_perplexity").getAsDouble();
        assertTrue(ppl > 1 && ppl < 8192 * 1.5, "a perplexity near the vocabulary size after 4 steps: " + ppl);
        assertEquals(Math.exp(json.get("heldout_loss").getAsDouble()), ppl, 1e-6 * ppl);
        assertTrue(json.get("heldout_tokens").getAsLong() > 500, json.toString());
        assertEquals(24, json.getAsJsonObject("settings").get("hidden").getAsInt(), "the settings are recorded");
        // the saved weights reload to the model that gave the held-out figure
        try (NDManager manager = NDManager.newBaseManager();
                HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(Path.of("data/gpt2-8k-tokenizer.json"));
                DataInputStream in = new DataInputStream(Files.newInputStream(out.resolve("lstm.params")))) {
            LstmLanguageModel reloaded = new LstmLanguageModel(8192, 16, 24, 1, 0.1f);
            reloaded.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
            reloaded.loadParameters(manager, in);
            long[] tokens = TextEvaluation.asDocument(codec.encode(Files.readString(tmp.resolve("heldout.txt"))),
                    codec.endOfText());
            double loss = TextEvaluation.evaluate(reloaded, 8192, reloaded.zeroState(manager, 1), manager.newSubManager(),
                    tokens, 100, null).loss();
            assertEquals(json.get("heldout_loss").getAsDouble(), loss, 0, "held-out loss of the reloaded weights");
        }
        String[] again = CliRun.run(command(tmp, out, "--steps", "4"));
        assertEquals("2", again[0], "a finished run is not overwritten");
        assertTrue(again[2].contains("already holds a baseline run"), again[2]);
    }

    @Test
    void aWallTimeBudgetStopsTheRunEarly(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("run");
        String[] r = CliRun.run(command(tmp, out, "--steps", "3000", "--minutes", "0.001"));
        assertEquals("0", r[0], r[2]);
        JsonObject json = results(out);
        assertTrue(json.get("stopped_by_time").getAsBoolean(), json.toString());
        assertTrue(json.get("steps").getAsInt() < 3000, json.toString());
        assertTrue(Double.isFinite(json.get("heldout_perplexity").getAsDouble()), json.toString());
    }

    @Test
    void badOptionsAreNamed(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("run");
        for (String[] bad : new String[][] {{"--hidden", "0"}, {"--layers", "-1"}, {"--dropout", "1"},
                {"--minutes", "-2"}, {"--seq-len", "1"}, {"--segment", "0"}}) {
            String[] r = CliRun.run(command(tmp, out, bad));
            assertEquals("2", r[0], String.join(" ", bad) + ": " + r[2]);
            assertTrue(r[2].contains(bad[0] + " must be"), r[2]);
        }
        assertFalse(Files.exists(out), "nothing written");
    }
}
