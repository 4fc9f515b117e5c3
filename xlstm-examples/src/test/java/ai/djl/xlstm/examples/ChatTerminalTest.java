package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code xlstm chat} as a user meets it: in a pseudo-terminal (util-linux {@code script}), typing
 * lines, quitting with Ctrl-D, and coming back to the same conversation.
 */
class ChatTerminalTest {

    private static String chat(Path session, String... lines) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String command = String.join(" ", List.of(java, "-Dai.djl.offline=true", "-cp", "'" + System.getProperty("java.class.path") + "'",
                XLstmCli.class.getName(), "chat", "--model-path", "'" + GenerateCommandTest.model + "'",
                "--session", "'" + session + "'", "--max-new-tokens", "6", "--seed", "2"));
        Process p = new ProcessBuilder("script", "-qefc", command, "/dev/null").redirectErrorStream(true).start();
        OutputStream in = p.getOutputStream();
        for (String line : lines) {
            Thread.sleep(line.isEmpty() ? 500 : 200);
            in.write((line + "\r").getBytes(StandardCharsets.UTF_8));
            in.flush();
        }
        Thread.sleep(500);
        in.write(4); // Ctrl-D at an empty prompt ends the chat
        in.flush();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "chat did not end: " + out);
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void aConversationResumesAfterARestart(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")), "util-linux script (a pseudo-terminal) is not installed");
        GenerateCommandTest.saveModel();
        Path session = dir.resolve("talk.session");
        String first = chat(session, "Good morning, Miss Bennet.");
        assertTrue(first.contains("you> ") && first.contains("xlstm> ") && first.contains("6 tokens"), first);
        assertTrue(Files.exists(session), "the session is saved after a turn");
        String second = chat(session, "And how is your sister?", "/save");
        assertTrue(second.contains("resumed " + session), second);
        assertTrue(second.contains("(saved "), second);
    }
}
