package ai.djl.xlstm.internal.decode;

/** The kernels in plain Java: the fallback where the Vector API module is not in the boot layer. */
final class ScalarKernels extends Kernels {

    static final ScalarKernels INSTANCE = new ScalarKernels();

    private ScalarKernels() {}

    @Override
    String name() {
        return "scalar";
    }

    @Override
    void matVecHalf(int[] w, int wOff, int rows, int cols, float[] x, int xOff, float[] y, int yOff) {
        int half = cols / 2;
        for (int r = 0; r < rows; r++) {
            int row = wOff + r * half;
            float s0 = 0;
            float s1 = 0;
            for (int j = 0; j < half; j++) {
                int pair = w[row + j];
                s0 += Matrix.halfToFloat(pair << 16) * x[xOff + 2 * j];
                s1 += Matrix.halfToFloat(pair & 0xFFFF0000) * x[xOff + 2 * j + 1];
            }
            y[yOff + r] = s0 + s1;
        }
    }

    @Override
    void widenRow(int[] halves, int off, int half, float[] out) {
        for (int j = 0; j < half; j++) {
            int pair = halves[off + j];
            out[j] = Matrix.halfToFloat(pair << 16);
            out[half + j] = Matrix.halfToFloat(pair & 0xFFFF0000);
        }
    }

    @Override
    void matMatHalfRow(float[] row, int half, float[][] split, float[][] ys, int at, int batch) {
        for (int b = 0; b < batch; b++) {
            float[] x = split[b];
            float s0 = 0;
            float s1 = 0;
            for (int j = 0; j < half; j++) {
                s0 += row[j] * x[j];
                s1 += row[half + j] * x[half + j];
            }
            ys[b][at] = s0 + s1;
        }
    }

    @Override
    void vecMat(float[] x, int xOff, int rows, float[] w, int wOff, int cols, float[] y, int yOff) {
        java.util.Arrays.fill(y, yOff, yOff + cols, 0f);
        for (int r = 0; r < rows; r++) {
            float xr = x[xOff + r];
            int row = wOff + r * cols;
            for (int c = 0; c < cols; c++) {
                y[yOff + c] += xr * w[row + c];
            }
        }
    }

    @Override
    float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        // four partial sums: independent additions the CPU can overlap
        float s0 = 0;
        float s1 = 0;
        float s2 = 0;
        float s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[aOff + i] * b[bOff + i];
            s1 += a[aOff + i + 1] * b[bOff + i + 1];
            s2 += a[aOff + i + 2] * b[bOff + i + 2];
            s3 += a[aOff + i + 3] * b[bOff + i + 3];
        }
        for (; i < n; i++) {
            s0 += a[aOff + i] * b[bOff + i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    @Override
    void memoryUpdate(float[] c, int cOff, int rows, int cols, float f, float[] s, int sOff,
            float[] v, int vOff, float[] q, int qOff, float[] num, int numOff) {
        for (int a = 0; a < rows; a++) {
            int row = cOff + a * cols;
            float sa = s[sOff + a];
            float qa = q[qOff + a];
            for (int b = 0; b < cols; b++) {
                float updated = f * c[row + b] + sa * v[vOff + b];
                c[row + b] = updated;
                num[numOff + b] += qa * updated;
            }
        }
    }
}
