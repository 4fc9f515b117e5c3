package ai.djl.xlstm.internal;

import java.nio.file.Path;

/** A second process for {@link FolderLockTest}: claims the folder in its argument, says so, and holds it until stdin closes. */
public final class FolderLockHolder {

    private FolderLockHolder() {}

    /** Holds {@code args[0]}. */
    public static void main(String[] args) throws Exception {
        try (FolderLock lock = FolderLock.acquire(Path.of(args[0]))) {
            System.out.println("held " + ProcessHandle.current().pid());
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait for the parent to close stdin (or kill this process)
            }
        }
    }
}
