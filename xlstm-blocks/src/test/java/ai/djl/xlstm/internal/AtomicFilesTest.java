package ai.djl.xlstm.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.training.TokenWindowDataset;
import ai.djl.xlstm.training.TrainingSession;
import ai.djl.xlstm.training.TrainingSettings;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

/**
 * The order that makes a publish survive a power loss: content forced, then the rename, then the
 * renamed entry's folder forced. A power loss itself is not simulated: these tests check that the
 * forces are made, and in which order (through {@link AtomicFiles}' trace seam), and that the real
 * forces succeed on this platform.
 */
class AtomicFilesTest {

    private final List<String> events = Collections.synchronizedList(new ArrayList<>());

    private void record() {
        AtomicFiles.trace = (event, path) -> events.add(event + " " + path.toAbsolutePath().normalize());
    }

    @AfterEach
    void silence() {
        AtomicFiles.trace = (event, path) -> {};
    }

    private int indexOf(String prefix) {
        for (int i = 0; i < events.size(); i++) {
            if (events.get(i).startsWith(prefix)) {
                return i;
            }
        }
        throw new AssertionError("no event " + prefix + " in " + events);
    }

    @Test
    void aFileIsForcedThenRenamedThenItsFolderForced(@TempDir Path tmp) throws Exception {
        Path dir = tmp.toRealPath();
        Path file = dir.resolve("latest");
        record();
        AtomicFiles.writeString(file, "checkpoint-000002\n");
        assertEquals(3, events.size(), events.toString());
        assertTrue(events.get(0).startsWith("force " + dir.resolve(".latest.")) && events.get(0).endsWith(".tmp"), events.toString());
        assertEquals("rename " + file, events.get(1));
        assertEquals("force-dir " + dir, events.get(2));
        assertEquals("checkpoint-000002\n", Files.readString(file));
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(List.of(file), left.toList(), "no temporary left");
        }
    }

    @Test
    void temporariesAreRecognizedByTheirName(@TempDir Path tmp) throws Exception {
        assertTrue(AtomicFiles.isTemporary(AtomicFiles.temporaryBeside(tmp.resolve("latest"))));
        assertTrue(AtomicFiles.isTemporary(AtomicFiles.temporaryBeside(tmp.resolve("model.safetensors"))));
        for (String name : new String[] {"latest", ".latest.tmp", "latest.0b6b8e43-3b7c-4b7e-9c53-6f1a6b1e2c3d.tmp",
                ".latest.not-a-uuid.tmp", ".lock"}) {
            assertFalse(AtomicFiles.isTemporary(tmp.resolve(name)), name);
        }
    }

    @Test
    void aCheckpointIsOnTheDiskBeforeLatestNamesIt(@TempDir Path tmp) throws Exception {
        Path run = tmp.toRealPath().resolve("run");
        long[] tokens = new long[400];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = i % 7;
        }
        TokenWindowDataset train = TokenWindowDataset.builder().setTokens(tokens).setSequenceLength(8)
                .setSampling(2, true).build();
        TrainingSettings settings = new TrainingSettings(1, 2, 1, 1e-3f, 1e-4f, 0, 0.1f, 1f, 1, 1, 0, 0, 0);
        try (TrainingSession session = TrainingSession.fresh(TestModels.neurips(1, List.of(), 16), settings, run, null)) {
            record();
            session.train(train, null, false);
        }
        Path tmpFolder = run.resolve(".checkpoint-000001.tmp");
        Path checkpoint = run.resolve("checkpoint-000001");
        int renameCheckpoint = events.indexOf("rename " + checkpoint);
        assertTrue(renameCheckpoint > 0, events.toString());
        try (Stream<Path> files = Files.list(checkpoint)) {
            for (Path f : files.toList()) {
                int forced = events.indexOf("force " + tmpFolder.resolve(f.getFileName()));
                assertTrue(forced >= 0 && forced < renameCheckpoint, f.getFileName() + " forced before the rename: " + events);
            }
        }
        int forcedFolder = events.indexOf("force-dir " + tmpFolder);
        assertTrue(forcedFolder >= 0 && forcedFolder < renameCheckpoint, "the checkpoint folder's entries: " + events);
        assertEquals("force-dir " + run, events.get(renameCheckpoint + 1), "the run folder after the rename: " + events);
        int renameLatest = events.indexOf("rename " + run.resolve("latest"));
        assertTrue(renameLatest > renameCheckpoint + 1, events.toString());
        assertTrue(events.get(renameLatest - 1).startsWith("force " + run.resolve(".latest.")), events.toString());
        assertEquals("force-dir " + run, events.get(renameLatest + 1), events.toString());
        assertTrue(indexOf("force " + tmpFolder) < renameLatest);
    }
}
