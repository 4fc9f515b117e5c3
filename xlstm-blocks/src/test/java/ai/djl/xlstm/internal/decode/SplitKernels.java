package ai.djl.xlstm.internal.decode;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * For the benchmark only (it measured no gain on the shared two-core machine, see
 * docs/generation.md): kernels that split each large matrix-vector product into row bands run on
 * the common fork-join pool and the calling thread, for more memory bandwidth where one core
 * cannot use all of it. Small products (the per-head ones) stay on the calling thread.
 */
final class SplitKernels extends Kernels {

    /** Products of fewer weights than this (floats) are not split: the fork costs microseconds. */
    static final int MIN_SPLIT = 1 << 17;

    private final Kernels inner;
    private final int parts;

    SplitKernels(Kernels inner, int parts) {
        this.inner = inner;
        this.parts = parts;
    }

    @Override
    String name() {
        return inner.name() + " x" + parts + " threads";
    }

    @Override
    void matVec(float[] w, int wOff, int rows, int cols, float[] x, int xOff, float[] y, int yOff) {
        if ((long) rows * cols < MIN_SPLIT || rows < 4 * parts) {
            inner.matVec(w, wOff, rows, cols, x, xOff, y, yOff);
            return;
        }
        int band = ((rows + parts - 1) / parts + 3) & ~3; // multiples of 4 rows
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[parts - 1];
        int n = 0;
        for (int start = band; start < rows; start += band) {
            int from = start;
            int count = Math.min(band, rows - start);
            tasks[n++] = ForkJoinPool.commonPool().submit(
                    () -> inner.matVec(w, wOff + from * cols, count, cols, x, xOff, y, yOff + from));
        }
        inner.matVec(w, wOff, Math.min(band, rows), cols, x, xOff, y, yOff);
        for (int i = 0; i < n; i++) {
            tasks[i].join();
        }
    }

    @Override
    void matVecHalf(int[] w, int wOff, int rows, int cols, float[] x, int xOff, float[] y, int yOff) {
        inner.matVecHalf(w, wOff, rows, cols, x, xOff, y, yOff);
    }

    @Override
    void matMat(float[] w, int wOff, int rows, int cols, float[][] xs, int xOff, float[][] ys, int yOff, int batch) {
        inner.matMat(w, wOff, rows, cols, xs, xOff, ys, yOff, batch);
    }

    @Override
    void widenRow(int[] halves, int off, int half, float[] out) {
        inner.widenRow(halves, off, half, out);
    }

    @Override
    void matMatHalfRow(float[] row, int half, float[][] split, float[][] ys, int at, int batch) {
        inner.matMatHalfRow(row, half, split, ys, at, batch);
    }

    @Override
    void vecMat(float[] x, int xOff, int rows, float[] w, int wOff, int cols, float[] y, int yOff) {
        inner.vecMat(x, xOff, rows, w, wOff, cols, y, yOff);
    }

    @Override
    float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return inner.dot(a, aOff, b, bOff, n);
    }

    @Override
    void memoryUpdate(float[] c, int cOff, int rows, int cols, float f, float[] s, int sOff,
            float[] v, int vOff, float[] q, int qOff, float[] num, int numOff) {
        inner.memoryUpdate(c, cOff, rows, cols, f, s, sOff, v, vOff, q, qOff, num, numOff);
    }
}
