package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Bad input to the command line: a one-line error, a non-zero exit, no stack trace (unless --verbose). */
class CliErrorsTest {

    /** {exit code, stderr}. */
    private static String[] run(String... args) {
        String[] r = CliRun.run(List.of(args));
        return new String[] {r[0], r[2]};
    }

    private static void assertOneLineError(String[] result, String expected) {
        assertEquals("2", result[0], "exit code; stderr: " + result[1]);
        String err = result[1].strip();
        assertTrue(err.startsWith("error: ") && err.contains(expected), err);
        assertFalse(err.contains("\n") || err.contains("\tat "), "more than one line: " + err);
    }

    /**
     * {@code xlstm NAME --threads 0} (or another bad setting) for every command with that option,
     * with a placeholder for each required option: the setting is checked first, before anything
     * runs.
     */
    private static void assertEveryCommandRejects(String option, String value, String expected) {
        int checked = 0;
        for (Map.Entry<String, CommandLine> e : XLstmCli.commandLine().getSubcommands().entrySet()) {
            CommandLine.Model.CommandSpec spec = e.getValue().getCommandSpec();
            if (spec.findOption(option) == null) {
                continue;
            }
            List<String> args = new ArrayList<>(List.of(e.getKey(), option, value));
            for (CommandLine.Model.ArgSpec required : spec.requiredArgs()) {
                if (required instanceof CommandLine.Model.OptionSpec o) {
                    args.addAll(List.of(o.longestName(), "placeholder"));
                }
            }
            assertOneLineError(run(args.toArray(new String[0])), expected);
            checked++;
        }
        assertTrue(checked >= 3, option + " on only " + checked + " commands");
    }

    @Test
    void threadsBelowOneIsAOneLineError() {
        assertEveryCommandRejects("--threads", "0", "--threads must be >= 1, got 0");
        assertEveryCommandRejects("--threads", "-2", "--threads must be >= 1, got -2");
    }

    @Test
    void anUnknownDeviceIsAOneLineError() {
        assertEveryCommandRejects("--device", "nonsense", "--device: unknown device 'nonsense'");
        assertEveryCommandRejects("--device", "gpu+gpu1", "--device: unknown device 'gpu+gpu1'");
    }

    @Test
    void aDeviceThisMachineLacksIsAOneLineError() {
        int gpus = ai.djl.engine.Engine.getInstance().getGpuCount();
        assertOneLineError(run("generate", "--model-path", "placeholder", "--device", "gpu:" + gpus), "--device gpu:" + gpus + ": the ");
        assertEquals(ai.djl.Device.cpu(), DeviceOptions.parse("CPU", ai.djl.engine.Engine.getInstance()));
        if (gpus > 0) {
            assertEquals(ai.djl.Device.gpu(0), DeviceOptions.parse("gpu", ai.djl.engine.Engine.getInstance()));
            assertEquals(ai.djl.Device.gpu(0), DeviceOptions.parse("cuda:0", ai.djl.engine.Engine.getInstance()));
        }
    }

    /** A count beyond the int range is a parse error naming the option, not an ArithmeticException. */
    @Test
    void aCountBeyondTheIntRangeNamesTheOption() {
        String[] r = run("generate", "--model", "xlstm-austen-tiny", "--prompt", "x", "--max-new-tokens", "2147483648");
        assertEquals("2", r[0], r[1]);
        String first = r[1].strip().lines().findFirst().orElse("");
        assertTrue(first.contains("--max-new-tokens") && first.contains("2147483648"), r[1]);
        assertFalse(r[1].contains("Exception"), r[1]);
    }

    @Test
    void verbosePrintsTheStackTraceOfAnError(@TempDir Path dir) {
        String[] quiet = run("generate", "--model-path", dir.resolve("nope").toString(), "--prompt", "x");
        assertOneLineError(quiet, "not a folder");
        String[] verbose = run("generate", "--model-path", dir.resolve("nope").toString(), "--prompt", "x", "--verbose");
        assertEquals("2", verbose[0], "still a user error; stderr: " + verbose[1]);
        assertTrue(verbose[1].startsWith("error: ") && verbose[1].contains("not a folder"), verbose[1]);
        assertTrue(verbose[1].contains("java.lang.IllegalArgumentException") && verbose[1].contains("\tat ai.djl.xlstm.examples."),
                "a stack trace: " + verbose[1]);
        String[] train = run("train", "--text", dir.resolve("missing.txt").toString(), "--tokenizer", "t.json", "--verbose");
        assertEquals("2", train[0], train[1]);
        assertTrue(train[1].contains("--config is required") && train[1].contains("\tat "), train[1]);
    }

    @Test
    void trainRejectsBadInput(@TempDir Path dir) throws Exception {
        Path text = Files.writeString(dir.resolve("t.txt"), "Some text.\n\nMore text here.\n".repeat(50));
        Path config = dir.resolve("config.json");
        Files.writeString(config, "{\"architecture\": \"xlstm-neurips\", \"vocab_size\": 100, \"embedding_dim\": 16,"
                + " \"num_blocks\": 1, \"slstm_at\": [], \"mlstm\": {\"num_heads\": 2}}");
        Path tokenizer = dir.resolve("tokenizer.json");
        Files.writeString(tokenizer, "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 4999}}}");
        String out = dir.resolve("out").toString();

        assertOneLineError(run("train", "--text", dir.resolve("missing.txt").toString(), "--tokenizer", tokenizer.toString(),
                "--config", config.toString(), "--out", out), "file not found");
        assertOneLineError(run("train", "--text", text.toString(), "--tokenizer", tokenizer.toString(),
                "--config", config.toString(), "--out", out), "has 5000 tokens but the model's vocab_size is 100");
        assertOneLineError(run("train", "--text", text.toString(), "--tokenizer", tokenizer.toString(),
                "--config", config.toString(), "--out", out, "--seq-len", "1"), "--seq-len must be >= 2");
        assertOneLineError(run("train", "--text", text.toString(), "--tokenizer", tokenizer.toString(),
                "--config", config.toString(), "--out", out, "--lr", "0"), "--lr must be > 0");
        assertOneLineError(run("train", "--text", text.toString(), "--tokenizer", tokenizer.toString(),
                "--config", config.toString(), "--out", out, "--allow-new-text"), "--allow-new-text applies only with --resume");
        assertOneLineError(run("train", "--text", text.toString(), "--tokenizer", tokenizer.toString(),
                "--config", dir.resolve("nope.json").toString(), "--out", out), "file not found");
    }

    /**
     * {@code eval --json} on a model whose outputs are NaN (a copy of the bundled tiny model with
     * NaN token embeddings): valid JSON with null loss and perplexity and the reason, the reason on
     * stderr, exit code 1.
     */
    @Test
    void evalOfANanModelPrintsValidJsonAndFails(@TempDir Path tmp) throws Exception {
        Path source = ModelFolder.zooFolder("xlstm-austen-tiny");
        Path broken = tmp.resolve("nan-model");
        Files.createDirectories(broken);
        try (var files = Files.list(source)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, broken.resolve(f.getFileName()));
            }
        }
        try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager()) {
            Map<String, ai.djl.ndarray.NDArray> weights =
                    new java.util.LinkedHashMap<>(ai.djl.xlstm.io.SafeTensors.load(broken.resolve("model.safetensors"), manager));
            String embedding = weights.keySet().stream().filter(k -> k.contains("embedding")).findFirst().orElseThrow();
            weights.put(embedding, weights.get(embedding).mul(Float.NaN));
            ai.djl.xlstm.io.SafeTensors.save(broken.resolve("model.safetensors"), weights, null);
        }
        Path text = tmp.resolve("text.txt");
        Files.writeString(text, "It is a truth universally acknowledged, that a single man in possession of a good fortune.");
        String[] r = CliRun.run(List.of("eval", "--model-path", broken.toString(), "--text", text.toString(), "--json"));
        assertEquals("1", r[0], "exit code; stderr: " + r[2]);
        String last = r[1].strip().lines().reduce((a, b) -> b).orElseThrow();
        com.google.gson.JsonObject json = com.google.gson.JsonParser.parseString(last).getAsJsonObject();
        assertTrue(json.get("loss").isJsonNull() && json.get("perplexity").isJsonNull(), last);
        assertTrue(json.get("tokens").getAsLong() > 10, last);
        assertTrue(json.get("error").getAsString().contains("NaN"), last);
        // strict parsing: no NaN or Infinity anywhere
        new com.google.gson.Gson().getAdapter(com.google.gson.JsonElement.class).fromJson(last);
        assertTrue(r[2].strip().startsWith("error: the loss is NaN"), r[2]);
    }
}
