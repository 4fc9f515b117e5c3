package ai.djl.xlstm.internal.decode;

/**
 * The inner loops of a decode step: matrix-vector products, dot products and the mLSTM memory
 * update. Two implementations: {@link VectorKernels} (the JDK's Vector API) and
 * {@link ScalarKernels} (plain Java); {@link #preferred()} picks one once per JVM.
 */
abstract class Kernels {

    /** The system property that, set to {@code true}, makes {@link #preferred()} the plain loops. */
    static final String SCALAR_PROPERTY = "ai.djl.xlstm.decode.scalar";

    private static final String VECTOR_MODULE = "jdk.incubator.vector";

    /** A short name for reports: "vector(16 floats)" or "scalar". */
    abstract String name();

    /**
     * {@code y[yOff + r] = sum_c w[wOff + r * cols + c] * x[xOff + c]} for {@code r < rows}: a
     * row-major {@code [rows, cols]} matrix times a vector, one {@link #dot} per row.
     */
    final void matVec(float[] w, int wOff, int rows, int cols, float[] x, int xOff, float[] y, int yOff) {
        // One row after the other: the matrix streams through memory in order. (Four rows at once,
        // sharing the loads of x, measured 2-3x slower on rows of 256 floats: four short
        // interleaved streams defeat the prefetcher.)
        for (int r = 0; r < rows; r++) {
            y[yOff + r] = dot(w, wOff + r * cols, x, xOff, cols);
        }
    }

    /**
     * Rows {@code [rowOff, rowOff + rows)} of {@code w} (float32 or float16) times {@code x[xOff,
     * xOff + w.cols)} into {@code y[yOff, yOff + rows)}.
     */
    final void matVec(Matrix w, int rowOff, int rows, float[] x, int xOff, float[] y, int yOff) {
        if (bands(rows, w.cols) > 1) {
            inBands(rows, w.cols, (from, count) -> matVecRows(w, rowOff + from, count, x, xOff, y, yOff + from));
            return;
        }
        matVecRows(w, rowOff, rows, x, xOff, y, yOff);
    }

    private void matVecRows(Matrix w, int rowOff, int rows, float[] x, int xOff, float[] y, int yOff) {
        if (w.isHalf()) {
            matVecHalf(w.halves, rowOff * (w.cols / 2), rows, w.cols, x, xOff, y, yOff);
        } else {
            matVec(w.values, rowOff * w.cols, rows, w.cols, x, xOff, y, yOff);
        }
    }

    /**
     * The system property with the threads a large product is split over ({@code
     * -Dai.djl.xlstm.decode.threads=N}; default: the available processors, at most 8; 1: never split).
     */
    static final String THREADS_PROPERTY = "ai.djl.xlstm.decode.threads";

    /**
     * Products of at least this many weights are split into row bands run in parallel: one core
     * cannot draw a machine's whole memory bandwidth (the 7B slice's step: 291 ms on one core, 182
     * ms on two), while for a small model's products (under 1M weights) forking costs more than it
     * saves.
     */
    static final long SPLIT_MIN_WEIGHTS = 1L << 22;

    /** The threads large products are split over, read once. */
    static int threads() {
        return Threads.COUNT;
    }

    /** How many row bands a product of {@code rows x cols} weights runs in. */
    static int bands(int rows, int cols) {
        int threads = threads();
        if (threads <= 1 || (long) rows * cols < SPLIT_MIN_WEIGHTS) {
            return 1;
        }
        return Math.min(threads, Math.max(1, rows / 64));
    }

    /** Runs {@code band.run(from, count)} over {@code rows} rows in {@link #bands} bands: one here, the rest on the common pool. */
    private static void inBands(int rows, int cols, Band band) {
        int parts = bands(rows, cols);
        int size = (rows + parts - 1) / parts;
        java.util.concurrent.ForkJoinTask<?>[] tasks = new java.util.concurrent.ForkJoinTask<?>[parts - 1];
        int n = 0;
        for (int from = size; from < rows; from += size) {
            int start = from;
            int count = Math.min(size, rows - from);
            tasks[n++] = java.util.concurrent.ForkJoinPool.commonPool().submit(() -> band.run(start, count));
        }
        band.run(0, Math.min(size, rows));
        for (int i = 0; i < n; i++) {
            tasks[i].join();
        }
    }

    /** A band of rows of one product. */
    @FunctionalInterface
    private interface Band {
        void run(int from, int count);
    }

    /** Holder of {@link #threads()}: read at first use. */
    private static final class Threads {
        static final int COUNT = Integer.getInteger(THREADS_PROPERTY,
                Math.min(8, Runtime.getRuntime().availableProcessors()));
    }

    /** All rows of {@code w} times {@code x}. */
    final void matVec(Matrix w, float[] x, int xOff, float[] y, int yOff) {
        matVec(w, 0, w.rows, x, xOff, y, yOff);
    }

    /**
     * Rows {@code [rowOff, rowOff + rows)} of {@code w} times each of {@code batch} vectors:
     * {@code ys[b][yOff + r] = w[rowOff + r] . xs[b][xOff, xOff + w.cols)}. Each weight row is read
     * from memory once for the whole batch; every product is computed as {@link #matVec} computes
     * it for one vector (the same sums in the same order), so a batch row equals a batch of one.
     */
    final void matMat(Matrix w, int rowOff, int rows, float[][] xs, int xOff, float[][] ys, int yOff, int batch) {
        if (batch == 1) {
            matVec(w, rowOff, rows, xs[0], xOff, ys[0], yOff);
            return;
        }
        if (bands(rows, w.cols) > 1) {
            inBands(rows, w.cols,
                    (from, count) -> matMatRows(w, rowOff + from, count, xs, xOff, ys, yOff + from, batch));
            return;
        }
        matMatRows(w, rowOff, rows, xs, xOff, ys, yOff, batch);
    }

    private void matMatRows(Matrix w, int rowOff, int rows, float[][] xs, int xOff, float[][] ys, int yOff,
            int batch) {
        if (!w.isHalf()) {
            matMat(w.values, rowOff * w.cols, rows, w.cols, xs, xOff, ys, yOff, batch);
            return;
        }
        int half = w.cols / 2;
        float[][] split = new float[batch][];
        for (int b = 0; b < batch; b++) {
            split[b] = new float[2 * half];
            splitEvenOdd(xs[b], xOff, half, split[b]);
        }
        float[] row = new float[w.cols]; // [even columns | odd columns] of one weight row, widened
        for (int r = 0; r < rows; r++) {
            widenRow(w.halves, (rowOff + r) * half, half, row);
            matMatHalfRow(row, half, split, ys, yOff + r, batch);
        }
    }

    /** All rows of {@code w} times each of {@code batch} vectors. */
    final void matMat(Matrix w, float[][] xs, int xOff, float[][] ys, int yOff, int batch) {
        matMat(w, 0, w.rows, xs, xOff, ys, yOff, batch);
    }

    /**
     * {@code ys[b][yOff + r] = sum_c w[wOff + r * cols + c] * xs[b][xOff + c]} for {@code r < rows}
     * and {@code b < batch}, each sum as {@link #dot} computes it.
     */
    final void matMat(float[] w, int wOff, int rows, int cols, float[][] xs, int xOff, float[][] ys, int yOff,
            int batch) {
        for (int r = 0; r < rows; r++) { // the row stays in the cache while every vector of the batch reads it
            int row = wOff + r * cols;
            for (int b = 0; b < batch; b++) {
                ys[b][yOff + r] = dot(w, row, xs[b], xOff, cols);
            }
        }
    }

    /**
     * One widened float16 row {@code row = [evens | odds]} (each {@code half} long) times each
     * split vector {@code split[b] = [evens | odds]}, into {@code ys[b][at]}: the sums
     * {@link #matVecHalf} forms for one row.
     */
    abstract void matMatHalfRow(float[] row, int half, float[][] split, float[][] ys, int at, int batch);

    /**
     * {@code out[0, 2 half) = [x[xOff], x[xOff + 2], ... | x[xOff + 1], x[xOff + 3], ...]}, {@code
     * half} each: the even and the odd columns, as packed float16 rows hold them.
     */
    static void splitEvenOdd(float[] x, int xOff, int half, float[] out) {
        for (int j = 0; j < half; j++) {
            out[j] = x[xOff + 2 * j];
            out[half + j] = x[xOff + 2 * j + 1];
        }
    }

    /** The {@code half} packed pairs of one float16 row from {@code off}, widened into {@code [evens | odds]}. */
    abstract void widenRow(int[] halves, int off, int half, float[] out);

    /**
     * {@link #matVec(float[], int, int, int, float[], int, float[], int)} over float16 weights
     * packed as {@link Matrix} packs them: {@code rows} rows of {@code cols / 2} ints from {@code
     * wOff}.
     */
    abstract void matVecHalf(int[] w, int wOff, int rows, int cols, float[] x, int xOff, float[] y, int yOff);

    /**
     * {@code y[yOff + c] = sum_r x[xOff + r] * w[wOff + r * cols + c]} for {@code c < cols}: a
     * vector times a row-major {@code [rows, cols]} matrix, for short rows (no per-row sums to
     * reduce, as {@link #matVec} would need for each of the {@code cols} outputs).
     */
    abstract void vecMat(float[] x, int xOff, int rows, float[] w, int wOff, int cols, float[] y, int yOff);

    /** {@code sum_i a[aOff + i] * b[bOff + i]} for {@code i < n}. */
    abstract float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /**
     * The mLSTM memory update of one head and its read-out in one pass over the memory: for each
     * row {@code a < rows}, {@code C[a, :] = f * C[a, :] + s[a] * v[:]}, then
     * {@code num[:] += q[a] * C[a, :]}. {@code C} is row-major {@code [rows, cols]} at
     * {@code cOff}; {@code num} must be zero on entry.
     */
    abstract void memoryUpdate(float[] c, int cOff, int rows, int cols, float f, float[] s, int sOff,
            float[] v, int vOff, float[] q, int qOff, float[] num, int numOff);

    /** The plain-Java kernels. */
    static Kernels scalar() {
        return ScalarKernels.INSTANCE;
    }

    /**
     * The Vector API kernels where {@code jdk.incubator.vector} is in the boot layer and the system
     * property {@value #SCALAR_PROPERTY} is not {@code true}, else the plain-Java ones. Chosen once.
     */
    static Kernels preferred() {
        return Preferred.KERNELS;
    }

    /** Whether the JVM was started with {@code --add-modules jdk.incubator.vector}. */
    static boolean vectorModulePresent() {
        return ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent();
    }

    /**
     * The choice of {@link #preferred()}: the Vector API kernels only where the module is present
     * and the plain ones are not asked for.
     */
    static Kernels choose(boolean modulePresent, boolean forceScalar) {
        if (forceScalar || !modulePresent) {
            return scalar();
        }
        try {
            // Loaded by name: the class links against jdk.incubator.vector, so it must not be
            // touched unless the module is there.
            return (Kernels) Class.forName(Kernels.class.getPackageName() + ".VectorKernels")
                    .getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            return scalar();
        }
    }

    /** Holder: the choice is made at first use, once. */
    private static final class Preferred {
        static final Kernels KERNELS = choose(vectorModulePresent(), Boolean.getBoolean(SCALAR_PROPERTY));
    }
}
