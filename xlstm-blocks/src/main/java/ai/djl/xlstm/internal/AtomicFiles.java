package ai.djl.xlstm.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes that a crash or a power loss cannot leave half done: the content goes to a temporary file
 * beside the target and is forced to the disk, then replaces the target in one atomic rename, and
 * the directory holding the rename is forced too (as databases do). A reader sees the old content
 * or the new, never a mix, and once a method returns the new content survives a power loss.
 */
public final class AtomicFiles {

    /** The names {@link #temporaryBeside} gives: {@code .NAME.UUID.tmp}. */
    private static final Pattern TEMPORARY =
            Pattern.compile("\\..+\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.tmp");

    /** Told of each step that makes a write durable; a seam for tests, silent otherwise. */
    interface Trace {
        /** {@code event} is "force" (a file), "rename" (to {@code path}) or "force-dir". */
        void on(String event, Path path);
    }

    static volatile Trace trace = (event, path) -> {};

    private AtomicFiles() {}

    /** Writes {@code text} (UTF-8) to {@code file}, replacing it atomically and durably. */
    public static void writeString(Path file, String text) throws IOException {
        write(file, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Writes {@code bytes} to {@code file}, replacing it atomically and durably. */
    public static void write(Path file, byte[] bytes) throws IOException {
        Path tmp = temporaryBeside(file);
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                force(channel, tmp);
            }
            move(tmp, file);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * A new name beside {@code file} for its temporary version ({@code .NAME.UUID.tmp}). Created by
     * the caller with the usual permissions (a temporary file from {@code Files.createTempFile}
     * would be readable by its owner alone, and keep that after the rename).
     */
    public static Path temporaryBeside(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        return dir.resolve("." + file.getFileName() + "." + UUID.randomUUID() + ".tmp");
    }

    /** Whether {@code path} is named as {@link #temporaryBeside} names temporaries. */
    public static boolean isTemporary(Path path) {
        Path name = path.getFileName();
        return name != null && TEMPORARY.matcher(name.toString()).matches();
    }

    /**
     * Moves {@code source} (a file or a folder) to {@code target} in one atomic rename, replacing a
     * target file, then forces the directory that holds {@code target} so that the rename survives a
     * power loss; both must be on the same file system. Force the content first ({@link #force},
     * {@link #forceTree}): a rename can reach the disk before the data it names.
     */
    public static void move(Path source, Path target) throws IOException {
        try {
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot replace " + target + " atomically (" + e.getMessage()
                    + "): keep the folder on one local file system", e);
        }
        trace.on("rename", target);
        forceDirectory(target.toAbsolutePath().getParent());
    }

    /** Forces the content and metadata of the file open in {@code channel} (named {@code file}) to the disk. */
    public static void force(FileChannel channel, Path file) throws IOException {
        channel.force(true);
        trace.on("force", file);
    }

    /**
     * Forces every file and folder under {@code root} (or the file {@code root}) to the disk: what a
     * folder about to be published by a rename holds must be there before the rename.
     */
    public static void forceTree(Path root) throws IOException {
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(root)) {
            paths = walk.sorted(Comparator.reverseOrder()).toList(); // children before their folder
        }
        for (Path p : paths) {
            if (Files.isDirectory(p)) {
                forceDirectory(p);
            } else if (Files.isRegularFile(p)) {
                try (FileChannel channel = FileChannel.open(p, StandardOpenOption.READ)) {
                    force(channel, p);
                }
            }
        }
    }

    /**
     * Forces a directory's entries (names created, renamed or deleted in it) to the disk. Where the
     * platform cannot open a directory (Windows), nothing: its file system journals renames itself.
     * A failure of the force itself (an I/O error of the disk) is thrown.
     */
    static void forceDirectory(Path dir) throws IOException {
        FileChannel channel;
        try {
            channel = FileChannel.open(dir, StandardOpenOption.READ);
        } catch (IOException e) {
            return; // a directory cannot be opened here; the rename is still atomic
        }
        try (channel) {
            channel.force(true);
            trace.on("force-dir", dir);
        }
    }

    /** Deletes {@code path} and everything under it; nothing when it does not exist. */
    public static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> files = Files.walk(path)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
