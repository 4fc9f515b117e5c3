package ai.djl.xlstm.internal.decode;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The kernels on the JDK's Vector API, at the platform's preferred vector width (16 floats with
 * AVX-512). Loaded only where {@code jdk.incubator.vector} is in the boot layer (see
 * {@link Kernels#preferred()}).
 */
final class VectorKernels extends Kernels {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final VectorSpecies<Integer> I = S.withLanes(int.class);
    private static final float HALF_SCALE = 0x1p112f;

    /** Per thread: x split into its even and odd columns ({@link #splitEvenOdd}), for {@link #matVecHalf}. */
    private static final ThreadLocal<float[][]> SPLIT = ThreadLocal.withInitial(() -> new float[1][0]);

    VectorKernels() {}

    @Override
    String name() {
        return "vector(" + L + " floats)";
    }

    @Override
    void matVecHalf(int[] w, int wOff, int rows, int cols, float[] x, int xOff, float[] y, int yOff) {
        int half = cols / 2;
        float[][] holder = SPLIT.get();
        if (holder[0].length < 2 * half) {
            holder[0] = new float[2 * half];
        }
        float[] split = holder[0]; // [evens | odds]
        splitEvenOdd(x, xOff, half, split);
        int upper = I.loopBound(half);
        for (int r = 0; r < rows; r++) {
            int row = wOff + r * half;
            FloatVector s0 = FloatVector.zero(S);
            FloatVector s1 = FloatVector.zero(S);
            int j = 0;
            for (; j < upper; j += L) {
                IntVector pairs = IntVector.fromArray(I, w, row + j);
                s0 = widen(pairs.lanewise(VectorOperators.LSHL, 16)).fma(FloatVector.fromArray(S, split, j), s0);
                s1 = widen(pairs.and(0xFFFF0000)).fma(FloatVector.fromArray(S, split, half + j), s1);
            }
            float sum = s0.add(s1).reduceLanes(VectorOperators.ADD);
            for (; j < half; j++) {
                int pair = w[row + j];
                sum += Matrix.halfToFloat(pair << 16) * split[j]
                        + Matrix.halfToFloat(pair & 0xFFFF0000) * split[half + j];
            }
            y[yOff + r] = sum;
        }
    }

    @Override
    void widenRow(int[] halves, int off, int half, float[] out) {
        int upper = I.loopBound(half);
        int j = 0;
        for (; j < upper; j += L) {
            IntVector pairs = IntVector.fromArray(I, halves, off + j);
            widen(pairs.lanewise(VectorOperators.LSHL, 16)).intoArray(out, j);
            widen(pairs.and(0xFFFF0000)).intoArray(out, half + j);
        }
        for (; j < half; j++) {
            int pair = halves[off + j];
            out[j] = Matrix.halfToFloat(pair << 16);
            out[half + j] = Matrix.halfToFloat(pair & 0xFFFF0000);
        }
    }

    @Override
    void matMatHalfRow(float[] row, int half, float[][] split, float[][] ys, int at, int batch) {
        int upper = I.loopBound(half);
        for (int b = 0; b < batch; b++) {
            float[] x = split[b];
            FloatVector s0 = FloatVector.zero(S);
            FloatVector s1 = FloatVector.zero(S);
            int j = 0;
            for (; j < upper; j += L) {
                s0 = FloatVector.fromArray(S, row, j).fma(FloatVector.fromArray(S, x, j), s0);
                s1 = FloatVector.fromArray(S, row, half + j).fma(FloatVector.fromArray(S, x, half + j), s1);
            }
            float sum = s0.add(s1).reduceLanes(VectorOperators.ADD);
            for (; j < half; j++) {
                sum += row[j] * x[j] + row[half + j] * x[half + j];
            }
            ys[b][at] = sum;
        }
    }

    /** {@link Matrix#halfToFloat} on a vector of halves held in the high 16 bits of each lane. */
    private static FloatVector widen(IntVector top) {
        return top.lanewise(VectorOperators.LSHR, 3).and(0x0FFFE000).or(top.and(0x80000000))
                .reinterpretAsFloats().mul(HALF_SCALE);
    }

    @Override
    void vecMat(float[] x, int xOff, int rows, float[] w, int wOff, int cols, float[] y, int yOff) {
        int c = 0;
        for (; c + 4 * L <= cols; c += 4 * L) { // 4 vectors of outputs held in registers over all rows
            FloatVector s0 = FloatVector.zero(S);
            FloatVector s1 = FloatVector.zero(S);
            FloatVector s2 = FloatVector.zero(S);
            FloatVector s3 = FloatVector.zero(S);
            for (int r = 0; r < rows; r++) {
                FloatVector xr = FloatVector.broadcast(S, x[xOff + r]);
                int at = wOff + r * cols + c;
                s0 = FloatVector.fromArray(S, w, at).fma(xr, s0);
                s1 = FloatVector.fromArray(S, w, at + L).fma(xr, s1);
                s2 = FloatVector.fromArray(S, w, at + 2 * L).fma(xr, s2);
                s3 = FloatVector.fromArray(S, w, at + 3 * L).fma(xr, s3);
            }
            s0.intoArray(y, yOff + c);
            s1.intoArray(y, yOff + c + L);
            s2.intoArray(y, yOff + c + 2 * L);
            s3.intoArray(y, yOff + c + 3 * L);
        }
        for (; c + L <= cols; c += L) {
            FloatVector s0 = FloatVector.zero(S);
            for (int r = 0; r < rows; r++) {
                s0 = FloatVector.fromArray(S, w, wOff + r * cols + c).fma(FloatVector.broadcast(S, x[xOff + r]), s0);
            }
            s0.intoArray(y, yOff + c);
        }
        for (; c < cols; c++) {
            float sum = 0;
            for (int r = 0; r < rows; r++) {
                sum += x[xOff + r] * w[wOff + r * cols + c];
            }
            y[yOff + c] = sum;
        }
    }

    @Override
    float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        float sum = 0;
        if (n >= L) {
            FloatVector s0 = FloatVector.zero(S);
            if (n >= 4 * L) {
                FloatVector s1 = FloatVector.zero(S);
                FloatVector s2 = FloatVector.zero(S);
                FloatVector s3 = FloatVector.zero(S);
                for (; i + 4 * L <= n; i += 4 * L) {
                    s0 = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), s0);
                    s1 = FloatVector.fromArray(S, a, aOff + i + L).fma(FloatVector.fromArray(S, b, bOff + i + L), s1);
                    s2 = FloatVector.fromArray(S, a, aOff + i + 2 * L)
                            .fma(FloatVector.fromArray(S, b, bOff + i + 2 * L), s2);
                    s3 = FloatVector.fromArray(S, a, aOff + i + 3 * L)
                            .fma(FloatVector.fromArray(S, b, bOff + i + 3 * L), s3);
                }
                s0 = s0.add(s1).add(s2.add(s3));
            }
            for (; i + L <= n; i += L) {
                s0 = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), s0);
            }
            sum = s0.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    @Override
    void memoryUpdate(float[] c, int cOff, int rows, int cols, float f, float[] s, int sOff,
            float[] v, int vOff, float[] q, int qOff, float[] num, int numOff) {
        int upper = S.loopBound(cols);
        for (int a = 0; a < rows; a++) {
            int row = cOff + a * cols;
            float sa = s[sOff + a];
            float qa = q[qOff + a];
            FloatVector fv = FloatVector.broadcast(S, f);
            FloatVector sv = FloatVector.broadcast(S, sa);
            FloatVector qv = FloatVector.broadcast(S, qa);
            int b = 0;
            for (; b < upper; b += L) {
                FloatVector updated = FloatVector.fromArray(S, c, row + b).mul(fv)
                        .add(FloatVector.fromArray(S, v, vOff + b).mul(sv));
                updated.intoArray(c, row + b);
                FloatVector.fromArray(S, num, numOff + b).add(updated.mul(qv)).intoArray(num, numOff + b);
            }
            for (; b < cols; b++) {
                float updated = f * c[row + b] + sa * v[vOff + b];
                c[row + b] = updated;
                num[numOff + b] += qa * updated;
            }
        }
    }
}
