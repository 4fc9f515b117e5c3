package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Bad input to the command line: a one-line error, a non-zero exit, no stack trace. */
class CliErrorsTest {

    private static String[] run(String... args) {
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = XLstmCli.run(args);
        } finally {
            System.setErr(err);
        }
        return new String[] {Integer.toString(code), buf.toString(StandardCharsets.UTF_8)};
    }

    private static void assertOneLineError(String[] result, String expected) {
        assertEquals("2", result[0], "exit code; stderr: " + result[1]);
        String err = result[1].strip();
        assertTrue(err.startsWith("error: ") && err.contains(expected), err);
        assertFalse(err.contains("\n") || err.contains("\tat "), "more than one line: " + err);
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
                "--config", dir.resolve("nope.json").toString(), "--out", out), "file not found");
    }
}
