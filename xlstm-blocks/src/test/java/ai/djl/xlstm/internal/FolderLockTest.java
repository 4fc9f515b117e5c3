package ai.djl.xlstm.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** One writer per folder: a second claim, from this JVM or another process, is refused until the first ends. */
class FolderLockTest {

    @Test
    void aSecondClaimInThisJvmIsRefusedUntilTheFirstIsReleased(@TempDir Path tmp) throws Exception {
        Path run = tmp.resolve("run");
        FolderLock first = FolderLock.acquire(run);
        assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(run.resolve(FolderLock.FILE)), "the holder's pid");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> FolderLock.acquire(run));
        assertTrue(e.getMessage().contains(run.toString()) && e.getMessage().contains("in use by this process (pid "
                + ProcessHandle.current().pid() + ")"), e.getMessage());
        // another spelling of the same folder is the same folder
        assertThrows(IllegalStateException.class, () -> FolderLock.acquire(run.resolve("..").resolve("run")));
        first.close();
        first.close(); // idempotent: must not release a later claim
        try (FolderLock again = FolderLock.acquire(run)) {
            first.close();
            assertThrows(IllegalStateException.class, () -> FolderLock.acquire(run), "still held by the second claim");
        }
        FolderLock.acquire(run).close();
    }

    @Test
    void anotherProcessIsRefusedByPidAndItsKillReleasesTheFolder(@TempDir Path tmp) throws Exception {
        Path run = tmp.resolve("run");
        Process child = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), FolderLockHolder.class.getName(), run.toString()))
                .redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            assertEquals("held " + child.pid(), line);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> FolderLock.acquire(run));
            assertTrue(e.getMessage().contains(run.toString()) && e.getMessage().contains("in use by process " + child.pid()),
                    e.getMessage());
            child.destroyForcibly(); // kill -9: no chance to release anything itself
            assertTrue(child.waitFor(60, TimeUnit.SECONDS));
            try (FolderLock mine = FolderLock.acquire(run)) {
                assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(run.resolve(FolderLock.FILE)));
            }
        } finally {
            child.destroyForcibly();
        }
    }
}
