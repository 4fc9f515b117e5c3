package ai.djl.xlstm.examples.formal;

import static ai.djl.xlstm.examples.formal.FormalExample.IGNORE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/** Checks every generator against an independent brute-force computation of its task's answer. */
class FormalLanguageGeneratorTest {

    private static final int[] LENGTHS = {1, 2, 3, 4, 5, 7, 16, 39, 40, 41, 64, 65, 128, 129, 255, 256};
    private static final int REPEATS = 4;

    @Test
    void parityMatchesCountOfOnes() {
        forEachExample(FormalTask.PARITY, (e, t) -> {
            int ones = 0;
            for (int i = 0; i <= t; i++) {
                assertTrue(e.tokens()[i] == 0 || e.tokens()[i] == 1);
                ones += e.tokens()[i] == 1 ? 1 : 0;
            }
            return 2 + ones % 2;
        });
    }

    @Test
    void evenPairsMatchesPairCount() {
        forEachExample(FormalTask.EVEN_PAIRS, (e, t) -> {
            int pairs = 0; // occurrences of "ab" and "ba" in the prefix
            for (int i = 0; i < t; i++) {
                pairs += e.tokens()[i] != e.tokens()[i + 1] ? 1 : 0;
            }
            return 2 + pairs % 2;
        });
    }

    @Test
    void cycleNavigationMatchesWalk() {
        forEachExample(FormalTask.CYCLE_NAVIGATION, (e, t) -> {
            int position = 0;
            for (int i = 0; i <= t; i++) {
                long a = e.tokens()[i];
                assertTrue(a >= 0 && a <= 2);
                position = a == 0 ? (position + 4) % 5 : a == 2 ? (position + 1) % 5 : position;
            }
            return 3 + position;
        });
    }

    @Test
    void modularArithmeticMatchesReevaluatedExpression() {
        forEachExample(FormalTask.MODULAR_ARITHMETIC, (e, t) -> {
            if (t % 2 == 1) {
                assertTrue(e.tokens()[t] >= 5 && e.tokens()[t] <= 7, "operator expected");
                return IGNORE;
            }
            assertTrue(e.tokens()[t] >= 0 && e.tokens()[t] <= 4, "number expected");
            String expression = render(e.tokens(), t + 1);
            return 8 + new Parser(expression).expression().mod(BigInteger.valueOf(5)).intValue();
        });
    }

    @Test
    void modularArithmeticHandExamples() {
        // upstream docstring examples, mod 5: 1+2*3 = 2, 1-1-1 = 4, 0*1+4*3-2 = 0
        assertEquals(2, new Parser("1+2*3").expression().mod(BigInteger.valueOf(5)).intValue());
        assertEquals(4, new Parser("1-1-1").expression().mod(BigInteger.valueOf(5)).intValue());
        assertEquals(0, new Parser("0*1+4*3-2").expression().mod(BigInteger.valueOf(5)).intValue());
    }

    @Test
    void modularArithmeticLengthIsOdd() {
        assertEquals(255, FormalTask.MODULAR_ARITHMETIC.generate(new Random(1), 256, Supervision.DENSE).length());
        assertEquals(1, FormalTask.MODULAR_ARITHMETIC.generate(new Random(1), 2, Supervision.DENSE).length());
        assertThrows(IllegalArgumentException.class,
                () -> FormalLanguageGenerator.modularArithmetic(new Random(1), 4, Supervision.DENSE));
    }

    @Test
    void mqarMatchesLookup() {
        Random random = new Random(7);
        for (int length : LENGTHS) {
            for (int r = 0; r < REPEATS; r++) {
                for (Supervision s : Supervision.values()) {
                    FormalExample e = FormalTask.MQAR.generate(random, length, s);
                    int n = Math.max(length, 4);
                    assertEquals(n, e.length());
                    int pairs = n / 4;
                    Map<Long, Long> table = new HashMap<>();
                    for (int i = 0; i < pairs; i++) {
                        long key = e.tokens()[2 * i];
                        long value = e.tokens()[2 * i + 1];
                        assertTrue(key >= 0 && key < 128, "key range");
                        assertTrue(value >= 128 && value < 256, "value range");
                        assertEquals(null, table.put(key, value), "duplicate key");
                        assertEquals(IGNORE, e.labels()[2 * i]);
                        assertEquals(IGNORE, e.labels()[2 * i + 1]);
                    }
                    assertEquals(pairs, new HashSet<>(table.values()).size(), "values distinct");
                    Set<Long> queried = new HashSet<>();
                    for (int t = 2 * pairs; t < n; t++) {
                        long token = e.tokens()[t];
                        assertTrue(token >= 0 && token < 256);
                        if (token < 128) {
                            assertTrue(queried.add(token), "key queried twice");
                            assertEquals(table.get(token), e.labels()[t]);
                        } else {
                            assertEquals(IGNORE, e.labels()[t]);
                        }
                    }
                    assertEquals(table.keySet(), queried, "every key queried once");
                }
            }
        }
    }

    @Test
    void lastSupervisionKeepsOnlyFinalLabel() {
        for (FormalTask task : new FormalTask[] {FormalTask.PARITY, FormalTask.EVEN_PAIRS,
                FormalTask.CYCLE_NAVIGATION, FormalTask.MODULAR_ARITHMETIC}) {
            FormalExample dense = task.generate(new Random(3), 41, Supervision.DENSE);
            FormalExample last = task.generate(new Random(3), 41, Supervision.LAST);
            assertArrayEquals(dense.tokens(), last.tokens(), task.cliName());
            for (int t = 0; t < 40; t++) {
                assertEquals(IGNORE, last.labels()[t]);
            }
            assertEquals(dense.labels()[40], last.labels()[40]);
            assertNotEquals(IGNORE, last.labels()[40]);
        }
    }

    @Test
    void deterministicForSeed() {
        for (FormalTask task : FormalTask.values()) {
            FormalExample a = task.generate(new Random(42), 100, Supervision.DENSE);
            FormalExample b = task.generate(new Random(42), 100, Supervision.DENSE);
            FormalExample c = task.generate(new Random(43), 100, Supervision.DENSE);
            assertEquals(a, b, task.cliName());
            assertNotEquals(a, c, task.cliName());
        }
    }

    @Test
    void paddingAppendsPadAndIgnore() {
        FormalExample e = FormalTask.PARITY.generate(new Random(5), 3, Supervision.DENSE);
        long[] tokens = e.paddedTokens(6, FormalTask.PARITY.padToken());
        long[] labels = e.paddedLabels(6);
        for (int t = 0; t < 3; t++) {
            assertEquals(e.tokens()[t], tokens[t]);
            assertEquals(e.labels()[t], labels[t]);
        }
        for (int t = 3; t < 6; t++) {
            assertEquals(4, tokens[t]);
            assertEquals(IGNORE, labels[t]);
        }
        assertThrows(IllegalArgumentException.class, () -> e.paddedLabels(2));
    }

    @Test
    void exampleValidatesLengths() {
        assertThrows(IllegalArgumentException.class, () -> new FormalExample(new long[2], new long[3]));
        assertThrows(IllegalArgumentException.class, () -> new FormalExample(new long[0], new long[0]));
        assertThrows(IllegalArgumentException.class,
                () -> FormalTask.PARITY.generate(new Random(0), 0, Supervision.DENSE));
    }

    /** Brute-force label of position {@code t} of an example. */
    private interface Oracle {
        long label(FormalExample example, int t);
    }

    private static void forEachExample(FormalTask task, Oracle oracle) {
        Random random = new Random(task.ordinal() + 11L);
        for (int length : LENGTHS) {
            for (int r = 0; r < REPEATS; r++) {
                FormalExample e = task.generate(random, length, Supervision.DENSE);
                assertEquals(task.exampleLength(length), e.length());
                for (int t = 0; t < e.length(); t++) {
                    assertTrue(e.tokens()[t] >= 0 && e.tokens()[t] < task.inputSymbols());
                    assertEquals(oracle.label(e, t), e.labels()[t], task.cliName() + " position " + t);
                }
            }
        }
    }

    private static String render(long[] tokens, int length) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < length; i++) {
            long x = tokens[i];
            sb.append(x < 5 ? Long.toString(x) : x == 5 ? "+" : x == 6 ? "-" : "*");
        }
        return sb.toString();
    }

    /** Exact integer evaluation of {@code num (op num)*} with * binding tighter than + and -. */
    private static final class Parser {
        private final String s;
        private int pos;

        Parser(String s) {
            this.s = s;
        }

        BigInteger expression() {
            BigInteger value = term();
            while (pos < s.length()) {
                char op = s.charAt(pos++);
                BigInteger rhs = term();
                value = op == '+' ? value.add(rhs) : value.subtract(rhs);
            }
            return value;
        }

        private BigInteger term() {
            BigInteger value = number();
            while (pos < s.length() && s.charAt(pos) == '*') {
                pos++;
                value = value.multiply(number());
            }
            return value;
        }

        private BigInteger number() {
            return BigInteger.valueOf(s.charAt(pos++) - '0');
        }
    }
}
