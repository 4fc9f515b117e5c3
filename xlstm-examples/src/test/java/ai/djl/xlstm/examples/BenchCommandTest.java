package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code xlstm bench} on a tiny config with tiny sizes: every suite's JSON lines parse strictly and
 * carry sane figures, {@code --out} writes the tables and plots, budgets turn runs into skipped
 * rows, and bad options are one-line errors.
 */
class BenchCommandTest {

    /** Fields every JSON line has (null where they do not apply). */
    private static final List<String> FIELDS = List.of("suite", "variant", "model", "dtype", "device", "batch", "seq_len",
            "tokens", "seconds", "seconds_min", "seconds_max", "seconds_p25", "seconds_p75", "runs", "tokens_per_s",
            "ms_per_token", "peak_rss_bytes", "rss_before_bytes", "peak_rss_scope", "ops_per_step", "ops_per_token",
            "roofline_fraction", "bound", "bound_seconds", "weight_bytes", "flops", "bytes_per_s", "gflop_per_s", "shape",
            "status", "note");

    private static Path tinyConfig(Path dir) throws IOException {
        Path config = dir.resolve("tiny.json");
        Files.writeString(config, "{\"architecture\": \"xlstm-neurips\", \"vocab_size\": 64, \"embedding_dim\": 32,"
                + " \"num_blocks\": 2, \"slstm_at\": [1], \"mlstm\": {\"num_heads\": 2}, \"slstm\": {\"num_heads\": 2}}");
        return config;
    }

    /** Parses every stdout line as strict JSON (no NaN, no infinity) with every field. */
    private static List<JsonObject> jsonLines(String stdout) throws IOException {
        List<JsonObject> rows = new ArrayList<>();
        for (String line : stdout.strip().split("\n")) {
            JsonElement e = new Gson().getAdapter(JsonElement.class).fromJson(line); // strict: rejects NaN
            JsonObject o = e.getAsJsonObject();
            for (String field : FIELDS) {
                assertTrue(o.has(field), "no field " + field + " in " + line);
            }
            rows.add(o);
        }
        return rows;
    }

    private static double positive(JsonObject o, String field) {
        assertFalse(o.get(field).isJsonNull(), field + " is null in " + o);
        double v = o.get(field).getAsDouble();
        assertTrue(v > 0 && Double.isFinite(v), field + " = " + v + " in " + o);
        return v;
    }

    private static List<JsonObject> suite(List<JsonObject> rows, String name) {
        return rows.stream().filter(o -> o.get("suite").getAsString().equals(name)).toList();
    }

    private static String[] run(String... args) {
        return CliRun.run(List.of(args));
    }

    /**
     * The matmul limit is timed with 4,096 rows: enough work per call that the per-call overhead of
     * a busy machine (tens of milliseconds when libtorch's threads wait for a core) cannot make the
     * compute limit look smaller than the tiny model's own work, which would put a fraction above 1.
     */
    @Test
    void everySuiteOnATinyConfigPrintsSaneJsonLinesAndWritesTheReport(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("report");
        String[] r = run("bench", "--config", tinyConfig(tmp).toString(), "--suite", "all", "--batch", "1,2",
                "--positions", "4,12", "--decode-steps", "3", "--decode-warmup", "1", "--repeats", "2",
                "--prefill-lengths", "16", "--prefill-segment", "8", "--train-batch", "2", "--train-length", "8",
                "--lengths", "8,16", "--bandwidth-mb", "1", "--matmul-rows", "4096", "--json", "--out", out.toString());
        assertEquals("0", r[0], r[2]);
        List<JsonObject> rows = jsonLines(r[1]);
        for (JsonObject o : rows) {
            assertEquals("f32", o.get("dtype").getAsString());
            assertEquals("ok", o.get("status").getAsString(), o.toString());
            positive(o, "seconds");
            positive(o, "peak_rss_bytes");
            assertTrue(o.get("seconds_min").getAsDouble() <= o.get("seconds").getAsDouble()
                    && o.get("seconds").getAsDouble() <= o.get("seconds_max").getAsDouble(), o.toString());
        }

        List<JsonObject> roofline = suite(rows, "roofline");
        assertEquals(1, roofline.stream().filter(o -> o.get("variant").getAsString().equals("matvec")).count());
        assertTrue(roofline.stream().anyMatch(o -> o.get("variant").getAsString().equals("matmul")), r[1]);
        roofline.forEach(o -> positive(o, o.get("variant").getAsString().equals("matvec") ? "bytes_per_s" : "gflop_per_s"));

        List<JsonObject> decode = suite(rows, "decode");
        Set<String> cases = new HashSet<>();
        for (JsonObject o : decode) {
            cases.add(o.get("batch").getAsInt() + "@" + o.get("seq_len").getAsInt());
        }
        assertEquals(Set.of("1@4", "1@12", "2@4", "2@12"), cases);
        for (String name : List.of("prefill", "decode", "train")) {
            List<JsonObject> s = suite(rows, name);
            assertFalse(s.isEmpty(), "no " + name + " rows: " + r[1]);
            for (JsonObject o : s) {
                double tokensPerS = positive(o, "tokens_per_s");
                double msPerToken = positive(o, "ms_per_token");
                assertEquals(1000 / tokensPerS, msPerToken, 1e-9 * msPerToken, o.toString());
                assertEquals(o.get("tokens").getAsDouble(), tokensPerS * o.get("seconds").getAsDouble(), 1e-6, o.toString());
                if (name.equals("decode")) {
                    // decode of up to 64 sequences runs on the CPU decode step: no native tensor at all
                    assertEquals(0.0, o.get("ops_per_token").getAsDouble(), o.toString());
                } else {
                    positive(o, "ops_per_token");
                }
                positive(o, "flops");
                positive(o, "weight_bytes");
                double fraction = positive(o, "roofline_fraction");
                assertTrue(fraction < 1.5, "roofline_fraction " + fraction + " in " + o);
                assertTrue(Set.of("bandwidth", "compute").contains(o.get("bound").getAsString()), o.toString());
            }
        }
        for (JsonObject o : decode) { // per token: a step's tensors shared by its sequences
            assertEquals(o.get("ops_per_step").getAsDouble() / o.get("batch").getAsInt(),
                    o.get("ops_per_token").getAsDouble(), 1e-9, o.toString());
        }

        List<JsonObject> scaling = suite(rows, "scaling");
        Set<String> models = new HashSet<>();
        scaling.forEach(o -> models.add(o.get("variant").getAsString()));
        assertEquals(Set.of("xlstm", "mlstm-chunkwise", "mlstm-parallel", "transformer", "lstm"), models);
        assertEquals(10, scaling.size(), r[1]);

        String md = Files.readString(out.resolve("bench.md"));
        for (String title : List.of("## Roofline", "## Prefill", "## Decode", "## Training step", "## Scaling", "- machine: ")) {
            assertTrue(md.contains(title), "no '" + title + "' in bench.md:\n" + md);
        }
        assertEquals(r[1].strip(), Files.readString(out.resolve("bench.jsonl")).strip());
        for (String png : List.of("decode.png", "prefill.png", "scaling-time.png", "scaling-memory.png")) {
            byte[] bytes = Files.readAllBytes(out.resolve(png));
            assertTrue(bytes.length > 1000 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G', png);
        }
    }

    @Test
    void aZooModelDecodesAndTheHumanReportNamesTheFigures() {
        String[] r = run("bench", "--model", "xlstm-austen-tiny", "--suite", "decode", "--batch", "1", "--positions", "8",
                "--decode-steps", "3", "--decode-warmup", "1", "--bandwidth-mb", "1", "--matmul-rows", "8");
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].startsWith("# xlstm bench: xlstm-austen-tiny"), r[1]);
        assertTrue(r[1].contains("decode   generator") && r[1].contains("tokens/s") && r[1].contains("tensors/run")
                && r[1].contains("bound"), r[1]);
    }

    /** {@code --dtype f16}: the zoo model loads with float16 weights, and a config initializes in float16. */
    @Test
    void float16WeightsRunTheInferenceSuites(@TempDir Path tmp) throws Exception {
        String[] r = run("bench", "--model", "xlstm-austen-tiny", "--dtype", "f16", "--suite", "prefill,decode",
                "--batch", "1", "--positions", "8", "--decode-steps", "3", "--decode-warmup", "1", "--repeats", "1",
                "--json");
        assertEquals("0", r[0], r[2]);
        List<String> lines = r[1].lines().filter(l -> l.startsWith("{")).toList();
        assertFalse(lines.isEmpty(), r[1]);
        for (String line : lines) {
            assertTrue(line.contains("\"dtype\":\"f16\""), line);
        }
        String[] c = run("bench", "--config", tinyConfig(tmp).toString(), "--dtype", "f16", "--suite", "decode",
                "--batch", "1", "--positions", "4", "--decode-steps", "2", "--decode-warmup", "1", "--repeats", "1", "--json");
        assertEquals("0", c[0], c[2]);
        assertTrue(c[1].contains("\"dtype\":\"f16\""), c[1]);
    }

    @Test
    void budgetsTurnRunsIntoSkippedRows(@TempDir Path tmp) throws Exception {
        String config = tinyConfig(tmp).toString();
        // time: every model runs the first length, which takes longer than a nanosecond, and skips the next
        String[] t = run("bench", "--config", config, "--suite", "scaling", "--lengths", "8,16", "--repeats", "1",
                "--time-budget", "1e-9", "--json");
        assertEquals("0", t[0], t[2]);
        for (JsonObject o : jsonLines(t[1])) {
            String status = o.get("status").getAsString();
            if (o.get("seq_len").getAsInt() == 8) {
                assertEquals("ok", status, o.toString());
            } else {
                assertTrue(status.startsWith("skipped: over budget (time"), o.toString());
                assertTrue(o.get("seconds").isJsonNull() && o.get("tokens_per_s").isJsonNull(), o.toString());
            }
        }
        // memory: the quadratic forms at 2,048 tokens need far more than 1 MiB
        String[] m = run("bench", "--config", config, "--suite", "scaling", "--lengths", "8,2048", "--repeats", "1",
                "--memory-budget", "0.001", "--json");
        assertEquals("0", m[0], m[2]);
        List<JsonObject> rows = jsonLines(m[1]);
        for (String model : List.of("mlstm-parallel", "transformer")) {
            JsonObject o = rows.stream().filter(x -> x.get("variant").getAsString().equals(model)
                    && x.get("seq_len").getAsInt() == 2048).findFirst().orElseThrow();
            assertTrue(o.get("status").getAsString().startsWith("skipped: over budget (memory"), o.toString());
        }
    }

    private static void assertOneLineError(String[] r, String expected) {
        assertEquals("2", r[0], "exit code; stderr: " + r[2]);
        String err = r[2].strip();
        assertTrue(err.startsWith("error: ") && err.contains(expected), err);
        assertFalse(err.contains("\n"), "more than one line: " + err);
    }

    @Test
    void badOptionsAreOneLineErrors(@TempDir Path tmp) throws Exception {
        String config = tinyConfig(tmp).toString();
        assertOneLineError(run("bench", "--suite", "speed"), "--suite: unknown suite 'speed'");
        assertOneLineError(run("bench", "--dtype", "f8"), "--dtype: unknown type 'f8'");
        assertOneLineError(run("bench", "--dtype", "bf16"), "--dtype bf16: not supported, and refused rather than risked");
        assertOneLineError(run("bench", "--dtype", "f16", "--suite", "train"), "--dtype f16 runs the inference suites");
        assertOneLineError(run("bench", "--batch", "1,0"), "--batch: every value must be in [1, 65536]");
        assertOneLineError(run("bench", "--lengths", "32,16"), "--lengths must be ascending");
        assertOneLineError(run("bench", "--repeats", "0"), "--repeats must be >= 1");
        assertOneLineError(run("bench", "--time-budget", "0"), "--time-budget must be > 0");
        assertOneLineError(run("bench", "--memory-budget", "-1"), "--memory-budget must be > 0");
        assertOneLineError(run("bench", "--config", tmp.resolve("missing.json").toString()),
                "no such file, and not a bundled configuration [neurips-7.5m, large-27.7m, xlstm-7b-slice]");
        assertOneLineError(run("bench", "--config", config, "--model", "xlstm-austen-tiny"),
                "give one of --config, --model and --model-path");
        assertOneLineError(run("bench", "--config", "xlstm-7b-slice", "--memory-budget", "1"),
                "over the memory budget");
    }
}
