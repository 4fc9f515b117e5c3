package ai.djl.xlstm.generate;

import java.util.Arrays;
import java.util.BitSet;
import java.util.SplittableRandom;

/**
 * Chooses each next token of one sequence from its logits, on the Java side (DJL's PyTorch engine
 * has no multinomial sampling, and the logits come to the JVM anyway for the stop checks): the
 * repetition penalty, then greedy choice or temperature, top-k, top-p and min-p filtering and a
 * draw from a seeded {@link SplittableRandom}, as described in {@link GenerationConfig}. The
 * arithmetic is in double precision, in a fixed order, so a seed reproduces a sequence exactly.
 */
final class TokenChooser {

    private final GenerationConfig config;
    private final int vocab;
    private final SplittableRandom random;
    private final BitSet seen;
    private final double[] z;
    private long[] order;

    /**
     * @param seed the seed of this sequence's random generator
     * @param history the tokens the sequence already holds (penalized by the repetition penalty)
     */
    TokenChooser(GenerationConfig config, long seed, int vocab, long[] history) {
        this.config = config;
        this.vocab = vocab;
        this.random = new SplittableRandom(seed);
        this.seen = new BitSet(vocab);
        this.z = new double[vocab];
        for (long id : history) {
            observe(id);
        }
    }

    /** Records a token fed to the sequence (for the repetition penalty; nothing to do without one). */
    void observe(long id) {
        if (config.repetitionPenalty() != 1f) {
            seen.set((int) id);
        }
    }

    /** The log-probability of {@code id} under the raw logits {@code [offset, offset + V)}. */
    static double logProb(float[] logits, int offset, int vocab, long id) {
        return logits[offset + (int) id] - logSumExp(logits, offset, vocab);
    }

    /**
     * The log-softmax of the logits {@code [offset, offset + V)} after the repetition penalty over
     * the recorded tokens and {@code more} (a beam's own tokens; they are not recorded).
     */
    double[] penalizedLogSoftmax(float[] logits, int offset, long[] more) {
        BitSet added = new BitSet();
        for (long id : more) {
            if (config.repetitionPenalty() != 1f && !seen.get((int) id)) {
                added.set((int) id);
                seen.set((int) id);
            }
        }
        penalize(logits, offset);
        seen.andNot(added);
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (double v : z) {
            sum += Math.exp(v - max);
        }
        double log = max + Math.log(sum);
        double[] out = new double[vocab];
        for (int i = 0; i < vocab; i++) {
            out[i] = z[i] - log;
        }
        return out;
    }

    /** Chooses the next token from the logits {@code [offset, offset + V)}. */
    long choose(float[] logits, int offset) {
        penalize(logits, offset);
        if (config.isGreedy()) {
            return argmax(z);
        }
        filter();
        double total = 0;
        for (double p : z) {
            total += p;
        }
        double u = random.nextDouble() * total;
        double cumulative = 0;
        int last = 0;
        for (int i = 0; i < vocab; i++) {
            if (z[i] > 0) {
                cumulative += z[i];
                last = i;
                if (cumulative > u) {
                    return i;
                }
            }
        }
        return last;
    }

    /**
     * The normalized distribution the next token is drawn from (one-hot when greedy); for tests.
     */
    double[] distribution(float[] logits, int offset) {
        penalize(logits, offset);
        double[] p = new double[vocab];
        if (config.isGreedy()) {
            p[argmax(z)] = 1;
            return p;
        }
        filter();
        double total = 0;
        for (double v : z) {
            total += v;
        }
        for (int i = 0; i < vocab; i++) {
            p[i] = z[i] / total;
        }
        return p;
    }

    /** Temperature, top-k, top-p and min-p on the penalized logits in {@code z}, in place. */
    private void filter() {
        double inv = 1.0 / config.temperature();
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            z[i] *= inv;
            max = Math.max(max, z[i]);
        }
        for (int i = 0; i < vocab; i++) {
            z[i] = Math.exp(z[i] - max); // unnormalized probabilities; the most likely token has 1
        }
        if (config.topK() > 0 && config.topK() < vocab || config.topP() < 1) {
            truncate();
        }
        if (config.minP() > 0) {
            double floor = config.minP(); // relative to the most likely token's 1
            for (int i = 0; i < vocab; i++) {
                if (z[i] < floor) {
                    z[i] = 0;
                }
            }
        }
    }

    /**
     * Applies top-k, then top-p (within the top-k tokens, as Hugging Face's warpers do), to the
     * unnormalized probabilities in {@code z} (the most likely token has 1).
     *
     * <p>Only the candidates are sorted: tokens at or above a threshold that is lowered (by
     * factors of 16) until the tokens above it number at least k, or (top-p alone) carry at least
     * the nucleus mass. Every token the filters keep lies above that threshold, so the result is
     * that of sorting the whole vocabulary, at a fraction of the cost (a full sort of 50k tokens
     * takes about 3 ms).
     */
    private void truncate() {
        int topK = config.topK() > 0 ? Math.min(config.topK(), vocab) : vocab;
        double total = 0;
        for (double p : z) {
            total += p;
        }
        double nucleus = config.topP() * total;
        double threshold = 1;
        int count;
        while (true) {
            count = 0;
            double mass = 0;
            for (double p : z) {
                if (p >= threshold) {
                    count++;
                    mass += p;
                }
            }
            boolean enough = config.topK() > 0 ? count >= topK : mass >= nucleus;
            if (enough || threshold == 0) {
                break;
            }
            threshold = threshold < 1e-290 ? 0 : threshold / 16;
        }
        if (order == null || order.length < count) {
            order = new long[Math.max(count, 64)];
        }
        // sort the candidates by probability, descending, ties by id: key = (probability bits, ~id)
        int n = 0;
        for (int i = 0; i < vocab; i++) {
            if (z[i] >= threshold) {
                order[n++] = key(i);
            }
        }
        Arrays.sort(order, 0, n);
        int keep = Math.min(topK, n);
        if (config.topP() < 1) {
            double kept = 0; // the mass top-p renormalizes over: the top-k tokens, or all
            for (int r = 0; r < keep && config.topK() > 0; r++) {
                kept += z[idAt(n - 1 - r)];
            }
            double target = config.topP() * (config.topK() > 0 ? kept : total);
            double cumulative = 0;
            for (int r = 0; r < keep; r++) {
                cumulative += z[idAt(n - 1 - r)];
                if (cumulative >= target) {
                    keep = r + 1;
                    break;
                }
            }
        }
        long cut = order[n - keep]; // the kept tokens are exactly those whose key is at least this
        for (int i = 0; i < vocab; i++) {
            if (z[i] < threshold || key(i) < cut) {
                z[i] = 0;
            }
        }
    }

    /** The sort key of token {@code i}: its probability's bits, then the complement of its id (ties by id). */
    private long key(int i) {
        return ((long) Float.floatToIntBits((float) z[i]) << 32) | (0xFFFFFFFFL & ~i);
    }

    private int idAt(int sortedIndex) {
        return ~(int) order[sortedIndex];
    }

    private void penalize(float[] logits, int offset) {
        for (int i = 0; i < vocab; i++) {
            z[i] = logits[offset + i];
        }
        float r = config.repetitionPenalty();
        if (r != 1f) {
            for (int i = seen.nextSetBit(0); i >= 0 && i < vocab; i = seen.nextSetBit(i + 1)) {
                z[i] = z[i] > 0 ? z[i] / r : z[i] * r;
            }
        }
    }

    static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    private static double logSumExp(float[] logits, int offset, int vocab) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[offset + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(logits[offset + i] - max);
        }
        return max + Math.log(sum);
    }
}
