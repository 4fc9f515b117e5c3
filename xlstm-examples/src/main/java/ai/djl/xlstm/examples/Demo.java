package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Loads an upstream checkpoint folder and prints the shape and a checksum of its logits for a
 * fixed token sequence. Usage: {@code Demo [CHECKPOINT_DIR]} (default: the shipped NeurIPS
 * reference model).
 */
public final class Demo {

    private static final Path DEFAULT =
            Path.of("integration-tests/src/test/resources/reference/neurips-a");

    private static final int RUNS = 20;

    private Demo() {}

    /** Runs the demo. */
    public static void main(String[] args) throws Exception {
        Path dir = args.length > 0 ? Path.of(args[0]) : locateDefault();
        if (!Files.isDirectory(dir)) {
            System.err.println("error: checkpoint folder not found: " + dir);
            System.exit(2);
        }
        run(dir, null);
    }

    /**
     * Runs the demo on {@code dir} (null: the shipped reference) on {@code device} (null: the
     * engine's default device).
     *
     * @throws IllegalArgumentException if {@code dir} is not a folder
     */
    static void run(Path checkpoint, Device device) throws Exception {
        Path dir = checkpoint != null ? checkpoint : locateDefault();
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("checkpoint folder not found: " + dir);
        }
        long start = System.nanoTime();
        try (ModelFolder folder = ModelFolder.openWithoutTokenizer(ModelSource.folder(dir), device)) {
            long loaded = System.nanoTime();
            NDManager manager = folder.manager();
            XLstmLanguageModel model = folder.model();
            int vocab = model.getConfig().vocabSize();
            long[] ids = new long[32];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = (i * 7L + 3) % vocab;
            }
            NDArray tokens = manager.create(ids).reshape(1, ids.length);
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray logits = model.logits(ps, tokens, false);
            long done = System.nanoTime();
            double[] times = new double[RUNS];
            for (int r = 0; r < RUNS; r++) {
                try (NDManager step = manager.newSubManager()) {
                    long t0 = System.nanoTime();
                    model.logits(ps, tokens.toDevice(step.getDevice(), false), false).toFloatArray();
                    times[r] = (System.nanoTime() - t0) / 1e6;
                }
            }
            java.util.Arrays.sort(times);
            System.out.printf(Locale.ROOT, "model:     %s (%s)%n", dir, model.getConfig().architecture());
            System.out.printf(Locale.ROOT, "tokens:    %s%n", tokens.getShape());
            System.out.printf(Locale.ROOT, "logits:    %s%n", logits.getShape());
            System.out.printf(Locale.ROOT, "checksum:  sum=%.6f sum|x|=%.6f%n",
                    logits.sum().getFloat(), logits.abs().sum().getFloat());
            System.out.printf(Locale.ROOT, "time:      load %.1f ms, first forward %.1f ms, forward median of %d %.2f ms%n",
                    (loaded - start) / 1e6, (done - loaded) / 1e6, RUNS, times[RUNS / 2]);
        }
    }

    /** The shipped reference, whether run from the repository root or from this module. */
    private static Path locateDefault() {
        Path fromRoot = DEFAULT;
        return Files.isDirectory(fromRoot) ? fromRoot : Path.of("..").resolve(DEFAULT);
    }
}
