package ai.djl.xlstm.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Writes that a crash cannot leave half done: the content goes to a temporary file beside the
 * target, which then replaces the target in one atomic rename. A reader sees the old content or
 * the new, never a mix.
 */
public final class AtomicFiles {

    private AtomicFiles() {}

    /**
     * Writes {@code text} (UTF-8) to {@code file}, replacing it atomically.
     *
     * @param file the file
     * @param text the text
     * @throws IOException if it cannot be written
     */
    public static void writeString(Path file, String text) throws IOException {
        write(file, text.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Writes {@code bytes} to {@code file}, replacing it atomically.
     *
     * @param file the file
     * @param bytes the bytes
     * @throws IOException if it cannot be written
     */
    public static void write(Path file, byte[] bytes) throws IOException {
        Path tmp = temporaryBeside(file);
        try {
            Files.write(tmp, bytes, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            move(tmp, file);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * A new name beside {@code file} for its temporary version. Created by the caller with the
     * usual permissions (a temporary file from {@code Files.createTempFile} would be readable by its
     * owner alone, and keep that after the rename).
     *
     * @param file the file to be replaced
     * @return a path in the same folder, not yet created
     * @throws IOException if the folder cannot be created
     */
    public static Path temporaryBeside(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        return dir.resolve("." + file.getFileName() + "." + UUID.randomUUID() + ".tmp");
    }

    /**
     * Moves {@code source} (a file or a folder) to {@code target} in one atomic rename, replacing a
     * target file; both must be on the same file system.
     *
     * @param source the file or folder
     * @param target where it goes
     * @throws IOException if the rename fails
     */
    public static void move(Path source, Path target) throws IOException {
        try {
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot replace " + target + " atomically (" + e.getMessage()
                    + "): keep the folder on one local file system", e);
        }
    }

    /**
     * Deletes {@code path} and everything under it; nothing when it does not exist.
     *
     * @param path the file or folder
     * @throws IOException if something cannot be deleted
     */
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
