package ai.djl.xlstm.internal.decode;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/** The kernels against float64 loops, at sizes with and without vector tails, and their choice. */
class KernelsTest {

    private static final int[] SIZES = {1, 3, 15, 16, 17, 63, 64, 65, 130, 256};

    @Test
    void bothKernelsMatchFloat64() {
        for (Kernels k : List.of(Kernels.choose(true, false), Kernels.scalar())) {
            Random random = new Random(4);
            for (int cols : SIZES) {
                for (int rows : new int[] {1, 3, 4, 5, 37}) {
                    int wOff = 3;
                    int xOff = 2;
                    float[] w = random(random, wOff + rows * cols);
                    float[] x = random(random, xOff + cols);
                    float[] y = new float[rows + 1];
                    k.matVec(w, wOff, rows, cols, x, xOff, y, 1);
                    for (int r = 0; r < rows; r++) {
                        double exact = 0;
                        double scale = 0;
                        for (int c = 0; c < cols; c++) {
                            exact += (double) w[wOff + r * cols + c] * x[xOff + c];
                            scale += Math.abs((double) w[wOff + r * cols + c] * x[xOff + c]);
                        }
                        assertEquals(exact, y[1 + r], 1e-6 * scale + 1e-30, k.name() + " matVec " + rows + "x" + cols);
                    }
                    assertEquals(0f, y[0], k.name() + ": matVec wrote outside its rows");
                    // the same matrix as [rows, cols] times a vector of rows values from the left
                    float[] xr = random(random, xOff + rows);
                    float[] yc = new float[cols + 2];
                    java.util.Arrays.fill(yc, 7f); // vecMat overwrites, it does not add
                    k.vecMat(xr, xOff, rows, w, wOff, cols, yc, 1);
                    for (int c = 0; c < cols; c++) {
                        double exactC = 0;
                        double scaleC = 0;
                        for (int r = 0; r < rows; r++) {
                            exactC += (double) w[wOff + r * cols + c] * xr[xOff + r];
                            scaleC += Math.abs((double) w[wOff + r * cols + c] * xr[xOff + r]);
                        }
                        assertEquals(exactC, yc[1 + c], 1e-6 * scaleC + 1e-30, k.name() + " vecMat " + rows + "x" + cols);
                    }
                    assertEquals(7f, yc[0], k.name() + ": vecMat wrote before its columns");
                    assertEquals(7f, yc[cols + 1], k.name() + ": vecMat wrote after its columns");
                }
                float[] a = random(random, cols + 5);
                float[] b = random(random, cols + 1);
                double exact = 0;
                double scale = 0;
                for (int i = 0; i < cols; i++) {
                    exact += (double) a[5 + i] * b[1 + i];
                    scale += Math.abs((double) a[5 + i] * b[1 + i]);
                }
                assertEquals(exact, k.dot(a, 5, b, 1, cols), 1e-6 * scale, k.name() + " dot " + cols);
            }
        }
    }

    /**
     * float16 matrices: every finite half (normal, subnormal, zero, both signs) widens exactly, and
     * the products over packed halves equal float64 products of the widened values.
     */
    @Test
    void halfMatricesWidenExactlyAndMultiplyAsFloat64() {
        for (int h = 0; h < 0x10000; h++) {
            if ((h & 0x7C00) == 0x7C00) {
                continue; // infinities and NaNs are refused by Matrix.half
            }
            int e = (h >> 10) & 0x1F;
            int m = h & 0x3FF;
            double magnitude = e == 0 ? m * Math.pow(2, -24) : (1 + m / 1024.0) * Math.pow(2, e - 15);
            double expected = (h & 0x8000) != 0 ? -magnitude : magnitude;
            assertEquals(expected, Matrix.halfToFloat(h << 16), 0.0, "half 0x" + Integer.toHexString(h));
        }
        for (Kernels k : List.of(Kernels.choose(true, false), Kernels.scalar())) {
            Random random = new Random(5);
            for (int cols : new int[] {2, 16, 30, 32, 34, 64, 130, 256}) {
                for (int rows : new int[] {1, 3, 17}) {
                    short[] bits = new short[rows * cols];
                    for (int i = 0; i < bits.length; i++) {
                        int h;
                        do {
                            h = random.nextInt(0x10000);
                        } while ((h & 0x7C00) == 0x7C00 || ((h >> 10) & 0x1F) > 20); // finite, |w| < 64
                        bits[i] = (short) h;
                    }
                    Matrix w = Matrix.half(bits, rows, cols);
                    float[] x = random(random, cols + 3);
                    float[] y = new float[rows + 2];
                    k.matVec(w, 1, rows - 1, x, 3, y, 1); // rows [1, rows) only
                    for (int r = 1; r < rows; r++) {
                        double exact = 0;
                        double scale = 0;
                        for (int c = 0; c < cols; c++) {
                            double wv = Matrix.halfToFloat(bits[r * cols + c] << 16);
                            exact += wv * x[3 + c];
                            scale += Math.abs(wv * x[3 + c]);
                        }
                        assertEquals(exact, y[r], 1e-6 * scale + 1e-30, k.name() + " half matVec " + rows + "x" + cols);
                    }
                    assertEquals(0f, y[0], "wrote before its rows");
                    assertEquals(0f, y[rows], "wrote after its rows");
                    float[] row = new float[cols];
                    w.row(rows - 1, row, 0);
                    for (int c = 0; c < cols; c++) {
                        assertEquals(Matrix.halfToFloat(bits[(rows - 1) * cols + c] << 16), row[c], 0f, "row value");
                    }
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Matrix.half(new short[] {0x7C00, 0}, 1, 2), "infinity");
    }

    /**
     * A product large enough to be split into row bands over threads gives every row bit for bit
     * what one thread gives (float32 and float16, one vector and a batch).
     */
    @Test
    void largeProductsSplitOverThreadsEqualOneThread() {
        int cols = 512;
        int rows = (int) (Kernels.SPLIT_MIN_WEIGHTS / cols) + 37;
        assertTrue(Kernels.threads() < 2 || Kernels.bands(rows, cols) > 1, "a product this large is split");
        Random random = new Random(9);
        float[] values = random(random, rows * cols);
        short[] bits = new short[rows * cols];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (short) (random.nextInt(0x7800) | (random.nextBoolean() ? 0x8000 : 0));
        }
        Kernels k = Kernels.preferred();
        float[][] xs = {random(random, cols), random(random, cols), random(random, cols)};
        for (Matrix w : List.of(Matrix.of(values, rows, cols), Matrix.half(bits, rows, cols))) {
            float[] split = new float[rows];
            k.matVec(w, xs[0], 0, split, 0);
            float[] one = new float[rows];
            if (w.isHalf()) {
                k.matVecHalf(w.halves, 0, rows, cols, xs[0], 0, one, 0);
            } else {
                k.matVec(values, 0, rows, cols, xs[0], 0, one, 0);
            }
            assertArrayEquals(one, split, (w.isHalf() ? "half" : "float32") + ": split rows differ");
            float[][] batch = new float[3][rows];
            k.matMat(w, xs, 0, batch, 0, 3);
            for (int b = 0; b < 3; b++) {
                float[] alone = new float[rows];
                k.matVec(w, xs[b], 0, alone, 0);
                assertArrayEquals(alone, batch[b], "batch row " + b);
            }
        }
    }

    /** A batch of vectors through {@code matMat}: each row bit for bit what {@code matVec} gives it alone. */
    @Test
    void batchedProductsEqualOneVectorAtATime() {
        for (Kernels k : List.of(Kernels.choose(true, false), Kernels.scalar())) {
            Random random = new Random(6);
            for (int cols : new int[] {2, 16, 34, 64, 130}) {
                int rows = 7;
                float[] values = random(random, rows * cols);
                short[] bits = new short[rows * cols];
                for (int i = 0; i < bits.length; i++) {
                    bits[i] = (short) (random.nextInt(0x7800) | (random.nextBoolean() ? 0x8000 : 0)); // finite
                }
                for (Matrix w : List.of(Matrix.of(values, rows, cols), Matrix.half(bits, rows, cols))) {
                    for (int batch : new int[] {1, 2, 5}) {
                        float[][] xs = new float[batch][];
                        float[][] ys = new float[batch][rows + 1];
                        for (int b = 0; b < batch; b++) {
                            xs[b] = random(random, cols + 1);
                        }
                        k.matMat(w, 2, rows - 2, xs, 1, ys, 1, batch);
                        for (int b = 0; b < batch; b++) {
                            float[] alone = new float[rows + 1];
                            k.matVec(w, 2, rows - 2, xs[b], 1, alone, 1);
                            assertArrayEquals(alone, ys[b], k.name() + (w.isHalf() ? " half" : "") + " batch " + batch
                                    + " row " + b + " cols " + cols);
                        }
                    }
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Matrix.half(new short[3], 1, 3), "odd columns");
    }

    @Test
    void memoryUpdateMatchesFloat64() {
        for (Kernels k : List.of(Kernels.choose(true, false), Kernels.scalar())) {
            Random random = new Random(5);
            for (int dh : SIZES) {
                float[] c = random(random, 1 + dh * dh);
                float[] expectedC = c.clone();
                float[] s = random(random, dh);
                float[] v = random(random, 2 + dh);
                float[] q = random(random, 3 + dh);
                float f = 0.7f;
                float[] num = new float[dh];
                double[] exact = new double[dh];
                for (int a = 0; a < dh; a++) {
                    for (int b = 0; b < dh; b++) {
                        float updated = f * expectedC[1 + a * dh + b] + s[a] * v[2 + b];
                        expectedC[1 + a * dh + b] = updated;
                        exact[b] += (double) q[3 + a] * updated;
                    }
                }
                k.memoryUpdate(c, 1, dh, dh, f, s, 0, v, 2, q, 3, num, 0);
                for (int i = 0; i < c.length; i++) {
                    assertEquals(expectedC[i], c[i], 1e-6f * (1 + Math.abs(expectedC[i])), k.name() + " C " + dh);
                }
                for (int b = 0; b < dh; b++) {
                    assertEquals(exact[b], num[b], 1e-5 * dh, k.name() + " num " + dh);
                }
            }
        }
    }

    @Test
    void choiceFollowsTheModuleAndTheProperty() {
        assertTrue(Kernels.choose(true, false) instanceof VectorKernels);
        assertSame(Kernels.scalar(), Kernels.choose(false, false), "module absent: the plain loops");
        assertSame(Kernels.scalar(), Kernels.choose(true, true), Kernels.SCALAR_PROPERTY + "=true: the plain loops");
    }

    /**
     * A JVM started without {@code --add-modules jdk.incubator.vector} (as {@code java -jar}
     * starts the CLI) chooses the plain loops and runs them, without touching the Vector API.
     */
    @Test
    void aJvmWithoutTheModuleFallsBack() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                FallbackMain.class.getName())
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM ended");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.exitValue(), out);
        assertEquals("module=false kernels=scalar dot=32.0", out.lines().reduce((a, b) -> b).orElse(""), out);
    }

    private static float[] random(Random random, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) random.nextGaussian();
        }
        return a;
    }

    /** The child of {@link #aJvmWithoutTheModuleFallsBack}. */
    static final class FallbackMain {
        public static void main(String[] args) {
            Kernels k = Kernels.preferred();
            float[] a = {1, 2, 3, 4};
            System.out.println("module=" + Kernels.vectorModulePresent() + " kernels=" + k.name()
                    + " dot=" + k.dot(a, 0, new float[] {2, 2, 2, 5}, 0, 4));
        }
    }
}
