package ai.djl.xlstm.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An exclusive claim on a folder by one writer: an operating-system lock ({@link
 * FileChannel#tryLock}) on the folder's {@value #FILE} file, which also records the holder's
 * process id, plus a registry of the folders this JVM holds (the operating system's lock is per
 * process, so a second claim from the same JVM must be refused here). A second writer is refused
 * at once with a message naming the folder and the holder. The operating system releases the lock
 * when the holder exits, however it exits (a kill -9 included), so a lock never outlives its
 * process; the file itself stays, as deleting it could let two writers lock two different files.
 */
public final class FolderLock implements AutoCloseable {

    /** The lock file's name inside the folder. */
    public static final String FILE = ".lock";

    private static final Set<Path> HELD_HERE = ConcurrentHashMap.newKeySet();

    private final Path folder;
    private final Path key;
    private final FileChannel channel;
    private final FileLock lock;
    private boolean closed;

    private FolderLock(Path folder, Path key, FileChannel channel, FileLock lock) {
        this.folder = folder;
        this.key = key;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Claims {@code folder} (created when missing) for writing by this process.
     *
     * @throws IllegalStateException if another process, or another claim in this JVM, holds it
     */
    public static FolderLock acquire(Path folder) throws IOException {
        Files.createDirectories(folder);
        Path key = folder.toRealPath();
        if (!HELD_HERE.add(key)) {
            throw refused(folder, "this process (pid " + ProcessHandle.current().pid() + ")");
        }
        FileChannel channel = null;
        try {
            Path file = key.resolve(FILE);
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // held by this JVM through another channel
            }
            if (lock == null) {
                throw refused(folder, holder(channel));
            }
            byte[] pid = (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(pid), 0);
            return new FolderLock(folder, key, channel, lock);
        } catch (IOException | RuntimeException e) {
            HELD_HERE.remove(key);
            if (channel != null) {
                channel.close();
            }
            throw e;
        }
    }

    /** Who holds the lock, from the pid its holder wrote. */
    private static String holder(FileChannel channel) {
        try {
            ByteBuffer buffer = ByteBuffer.allocate(32);
            channel.read(buffer, 0);
            String pid = new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII).trim();
            if (pid.matches("\\d+")) {
                return "process " + pid;
            }
        } catch (IOException e) {
            // a platform that blocks reading a locked file: the holder is unnamed
        }
        return "another process";
    }

    private static IllegalStateException refused(Path folder, String holder) {
        return new IllegalStateException(folder + " is in use by " + holder + ", which holds its " + FILE
                + ": one writer at a time; wait for it to finish or stop it, then try again");
    }

    /** The folder held. */
    public Path folder() {
        return folder;
    }

    /** Releases the folder; a second call does nothing. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (lock.isValid()) {
                channel.truncate(0); // no stale pid for the next reader
                lock.release();
            }
        } finally {
            channel.close();
            HELD_HERE.remove(key);
        }
    }
}
