package ai.djl.xlstm.internal.decode;

import jdk.incubator.vector.FloatVector;
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

    VectorKernels() {}

    @Override
    String name() {
        return "vector(" + L + " floats)";
    }

    @Override
    void matVec(float[] w, int wOff, int rows, int cols, float[] x, int xOff, float[] y, int yOff) {
        if (cols < L) {
            ScalarKernels.INSTANCE.matVec(w, wOff, rows, cols, x, xOff, y, yOff);
            return;
        }
        int upper = S.loopBound(cols);
        int r = 0;
        // four rows at a time: each load of x feeds four FMAs, four independent sums
        for (; r + 3 < rows; r += 4) {
            int w0 = wOff + r * cols;
            int w1 = w0 + cols;
            int w2 = w1 + cols;
            int w3 = w2 + cols;
            FloatVector a0 = FloatVector.zero(S);
            FloatVector a1 = FloatVector.zero(S);
            FloatVector a2 = FloatVector.zero(S);
            FloatVector a3 = FloatVector.zero(S);
            for (int c = 0; c < upper; c += L) {
                FloatVector xv = FloatVector.fromArray(S, x, xOff + c);
                a0 = FloatVector.fromArray(S, w, w0 + c).fma(xv, a0);
                a1 = FloatVector.fromArray(S, w, w1 + c).fma(xv, a1);
                a2 = FloatVector.fromArray(S, w, w2 + c).fma(xv, a2);
                a3 = FloatVector.fromArray(S, w, w3 + c).fma(xv, a3);
            }
            float s0 = a0.reduceLanes(VectorOperators.ADD);
            float s1 = a1.reduceLanes(VectorOperators.ADD);
            float s2 = a2.reduceLanes(VectorOperators.ADD);
            float s3 = a3.reduceLanes(VectorOperators.ADD);
            for (int c = upper; c < cols; c++) {
                float xc = x[xOff + c];
                s0 += w[w0 + c] * xc;
                s1 += w[w1 + c] * xc;
                s2 += w[w2 + c] * xc;
                s3 += w[w3 + c] * xc;
            }
            y[yOff + r] = s0;
            y[yOff + r + 1] = s1;
            y[yOff + r + 2] = s2;
            y[yOff + r + 3] = s3;
        }
        for (; r < rows; r++) {
            y[yOff + r] = dot(w, wOff + r * cols, x, xOff, cols);
        }
    }

    @Override
    float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        float sum = 0;
        if (n >= 2 * L) {
            FloatVector s0 = FloatVector.zero(S);
            FloatVector s1 = FloatVector.zero(S);
            int upper2 = n - n % (2 * L);
            for (; i < upper2; i += 2 * L) {
                s0 = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), s0);
                s1 = FloatVector.fromArray(S, a, aOff + i + L).fma(FloatVector.fromArray(S, b, bOff + i + L), s1);
            }
            sum = s0.add(s1).reduceLanes(VectorOperators.ADD);
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
