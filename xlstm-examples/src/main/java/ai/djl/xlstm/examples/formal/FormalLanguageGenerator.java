package ai.djl.xlstm.examples.formal;

import java.util.Arrays;
import java.util.Objects;
import java.util.Random;

/**
 * Random examples of the {@link FormalTask}s, deterministic for a seeded {@link Random}. Token ids
 * follow the layout documented on {@link FormalTask}. Each position {@code t} of a state-tracking
 * task is labelled ({@link Supervision#DENSE}) with the answer for the prefix {@code [0, t]}:
 *
 * <ul>
 *   <li><b>parity</b>: uniform bits; answer = number of 1s mod 2 (class 1 = odd).
 *   <li><b>even pairs</b>: uniform symbols a/b; answer = number of 'ab' and 'ba' pairs mod 2 (class 1
 *       = odd), which is 1 exactly when the current symbol differs from the first.
 *   <li><b>cycle navigation</b>: uniform actions {@code a in {0, 1, 2}} meaning moves {@code a - 1}
 *       on a cycle of length 5 from position 0; answer = {@code sum(a - 1) mod 5}.
 *   <li><b>modular arithmetic</b> (no brackets): numbers 0..4 at even positions, operators uniform
 *       over {+, -, *} at odd positions; answer = value mod 5 with the usual precedence ({@code *}
 *       before {@code +}/{@code -}, left to right), as upstream evaluates it. Only prefixes that end
 *       in a number are labelled; operator positions get {@link FormalExample#IGNORE}. Upstream
 *       expressions have odd length, so an even requested length is reduced by one.
 *   <li><b>MQAR</b>: for length {@code L} (clamped to at least {@value #MQAR_MIN_LENGTH}) there are
 *       {@code n = min(L / 4, }{@value #MQAR_KEYS}{@code )} pairs (Zoology's densest setting,
 *       {@code 4n <= L}). The first {@code 2n} tokens are pairs {@code k1 v1 ... kn vn} with distinct
 *       keys from {@code [0, 128)} and distinct values from {@code [128, 256)}. The remaining
 *       {@code L - 2n >= 2n} positions hold each key once as a query, at uniformly chosen positions in
 *       random order, and random value tokens elsewhere (fillers are never keys, so every key after
 *       the pairs is a query). Each query position is labelled with its key's value, in both
 *       supervision modes. Zoology draws query gaps from a power law; here they are uniform.
 * </ul>
 *
 * <p>{@link Supervision#LAST} keeps only the label of the final position for state-tracking tasks.
 */
public final class FormalLanguageGenerator {

    /** The cycle length of cycle navigation. */
    public static final int CYCLE_LENGTH = 5;
    /** The modulus of modular arithmetic. */
    public static final int MODULUS = 5;
    /** Token of '+' in modular arithmetic ('-' and '*' follow). */
    public static final int PLUS = MODULUS;
    /** Token of '-' in modular arithmetic. */
    public static final int MINUS = MODULUS + 1;
    /** Token of '*' in modular arithmetic. */
    public static final int TIMES = MODULUS + 2;
    /** The number of MQAR keys (and of values); keys are {@code [0, 128)}, values {@code [128, 256)}. */
    public static final int MQAR_KEYS = 128;
    /** The shortest MQAR example: one pair, one query and one filler. */
    public static final int MQAR_MIN_LENGTH = 4;

    private FormalLanguageGenerator() {}

    /** A random example of {@code task.exampleLength(length)} tokens. */
    public static FormalExample generate(FormalTask task, Random random, int length, Supervision supervision) {
        Objects.requireNonNull(random, "random");
        Objects.requireNonNull(supervision, "supervision");
        int n = task.exampleLength(length);
        return switch (task) {
            case PARITY -> parity(random, n, supervision);
            case EVEN_PAIRS -> evenPairs(random, n, supervision);
            case CYCLE_NAVIGATION -> cycleNavigation(random, n, supervision);
            case MODULAR_ARITHMETIC -> modularArithmetic(random, n, supervision);
            case MQAR -> mqar(random, n);
        };
    }

    /** Parity of the number of 1s; {@code length >= 1}. */
    public static FormalExample parity(Random random, int length, Supervision supervision) {
        long[] tokens = new long[checkLength(length)];
        long[] labels = new long[length];
        int ones = 0;
        for (int t = 0; t < length; t++) {
            tokens[t] = random.nextInt(2);
            ones += (int) tokens[t];
            labels[t] = FormalTask.PARITY.firstLabelToken() + (ones & 1);
        }
        return finish(tokens, labels, supervision);
    }

    /** Even pairs over {a, b}; {@code length >= 1}. */
    public static FormalExample evenPairs(Random random, int length, Supervision supervision) {
        long[] tokens = new long[checkLength(length)];
        long[] labels = new long[length];
        for (int t = 0; t < length; t++) {
            tokens[t] = random.nextInt(2);
            labels[t] = FormalTask.EVEN_PAIRS.firstLabelToken() + (tokens[t] == tokens[0] ? 0 : 1);
        }
        return finish(tokens, labels, supervision);
    }

    /** Cycle navigation on a cycle of {@value #CYCLE_LENGTH}; {@code length >= 1}. */
    public static FormalExample cycleNavigation(Random random, int length, Supervision supervision) {
        long[] tokens = new long[checkLength(length)];
        long[] labels = new long[length];
        int position = 0;
        for (int t = 0; t < length; t++) {
            int action = random.nextInt(3);
            tokens[t] = action;
            position = Math.floorMod(position + action - 1, CYCLE_LENGTH);
            labels[t] = FormalTask.CYCLE_NAVIGATION.firstLabelToken() + position;
        }
        return finish(tokens, labels, supervision);
    }

    /** Modular arithmetic without brackets; {@code length} must be odd. */
    public static FormalExample modularArithmetic(Random random, int length, Supervision supervision) {
        if (checkLength(length) % 2 == 0) {
            throw new IllegalArgumentException("modular arithmetic needs an odd length, got " + length);
        }
        long[] tokens = new long[length];
        long[] labels = new long[length];
        int sum = 0; // closed additive terms, mod 5
        int term = 0; // the open product term with its sign, mod 5
        int pending = PLUS; // operator before the current number
        for (int t = 0; t < length; t++) {
            if (t % 2 == 1) {
                pending = PLUS + random.nextInt(3);
                tokens[t] = pending;
                labels[t] = FormalExample.IGNORE;
                continue;
            }
            int x = random.nextInt(MODULUS);
            tokens[t] = x;
            if (pending == TIMES) {
                term = term * x % MODULUS;
            } else {
                sum = (sum + term) % MODULUS;
                term = pending == MINUS ? (MODULUS - x) % MODULUS : x;
            }
            labels[t] = FormalTask.MODULAR_ARITHMETIC.firstLabelToken() + (sum + term) % MODULUS;
        }
        return finish(tokens, labels, supervision);
    }

    /** Multi-query associative recall; {@code length >= }{@value #MQAR_MIN_LENGTH}. */
    public static FormalExample mqar(Random random, int length) {
        if (length < MQAR_MIN_LENGTH) {
            throw new IllegalArgumentException("MQAR needs length >= " + MQAR_MIN_LENGTH + ", got " + length);
        }
        int pairs = Math.min(length / 4, MQAR_KEYS);
        int[] keys = sample(random, MQAR_KEYS, pairs);
        int[] values = sample(random, MQAR_KEYS, pairs);
        long[] tokens = new long[length];
        long[] labels = new long[length];
        Arrays.fill(labels, FormalExample.IGNORE);
        for (int i = 0; i < pairs; i++) {
            tokens[2 * i] = keys[i];
            tokens[2 * i + 1] = MQAR_KEYS + values[i];
        }
        int context = 2 * pairs;
        for (int t = context; t < length; t++) {
            tokens[t] = MQAR_KEYS + random.nextInt(MQAR_KEYS); // filler: a random value token
        }
        int[] slots = sample(random, length - context, pairs); // query offsets, random order
        for (int i = 0; i < pairs; i++) {
            int t = context + slots[i];
            tokens[t] = keys[i];
            labels[t] = MQAR_KEYS + values[i];
        }
        return new FormalExample(tokens, labels);
    }

    /** {@code k} distinct values of {@code [0, n)} in random order (partial Fisher-Yates). */
    private static int[] sample(Random random, int n, int k) {
        int[] all = new int[n];
        for (int i = 0; i < n; i++) {
            all[i] = i;
        }
        for (int i = 0; i < k; i++) {
            int j = i + random.nextInt(n - i);
            int tmp = all[i];
            all[i] = all[j];
            all[j] = tmp;
        }
        return Arrays.copyOf(all, k);
    }

    private static int checkLength(int length) {
        if (length < 1) {
            throw new IllegalArgumentException("length must be >= 1, got " + length);
        }
        return length;
    }

    private static FormalExample finish(long[] tokens, long[] labels, Supervision supervision) {
        if (supervision == Supervision.LAST) {
            Arrays.fill(labels, 0, labels.length - 1, FormalExample.IGNORE);
        }
        return new FormalExample(tokens, labels);
    }
}
