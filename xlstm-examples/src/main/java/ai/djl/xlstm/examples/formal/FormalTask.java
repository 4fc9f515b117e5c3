package ai.djl.xlstm.examples.formal;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Collectors;

/**
 * The formal-language tasks of the xLSTM paper (Beck et al. 2024, Fig. 4; definitions from Delétang
 * et al. 2023, "Neural Networks and the Chomsky Hierarchy") and Multi-Query Associative Recall
 * (Arora et al. 2023, "Zoology").
 *
 * <p>Each task uses one id space for its input symbols, its label symbols and a PAD token, laid out
 * as {@code [input symbols][label symbols][PAD]} (MQAR's labels are its value tokens, so there it is
 * {@code [keys][values][PAD]}); PAD is always the last id, {@code vocabSize() - 1}:
 *
 * <table>
 *   <caption>Vocabulary layout</caption>
 *   <tr><th>task</th><th>inputs</th><th>labels</th><th>PAD</th><th>vocab</th></tr>
 *   <tr><td>parity</td><td>0='0', 1='1'</td><td>2=even, 3=odd</td><td>4</td><td>5</td></tr>
 *   <tr><td>even-pairs</td><td>0='a', 1='b'</td><td>2=even, 3=odd</td><td>4</td><td>5</td></tr>
 *   <tr><td>cycle-navigation</td><td>0=-1, 1=stay, 2=+1</td><td>3+p, p in 0..4</td><td>8</td><td>9</td></tr>
 *   <tr><td>modular-arithmetic</td><td>0..4 numbers, 5='+', 6='-', 7='*'</td><td>8+r, r in 0..4</td>
 *       <td>13</td><td>14</td></tr>
 *   <tr><td>mqar</td><td>0..127 keys, 128..255 values</td><td>the value tokens</td><td>256</td>
 *       <td>257</td></tr>
 * </table>
 *
 * <p>See {@link FormalLanguageGenerator} for the exact definitions and length rules.
 */
public enum FormalTask {
    /** Running parity of the number of 1s. */
    PARITY("parity", 2, 2, 2, true, 1),
    /** Whether the number of 'ab' and 'ba' pairs is even, i.e. first symbol == current symbol. */
    EVEN_PAIRS("even-pairs", 2, 2, 2, true, 1),
    /** Running position on a cycle of length 5 under moves {-1, stay, +1}, starting at 0. */
    CYCLE_NAVIGATION("cycle-navigation", 3, 3, FormalLanguageGenerator.CYCLE_LENGTH, true, 1),
    /** Value modulo 5 of an expression over 0..4 with +, -, * (usual precedence, no brackets). */
    MODULAR_ARITHMETIC("modular-arithmetic", FormalLanguageGenerator.MODULUS + 3,
            FormalLanguageGenerator.MODULUS + 3, FormalLanguageGenerator.MODULUS, true, 1),
    /** Multi-query associative recall: key-value pairs, then queries answered by their value. */
    MQAR("mqar", 2 * FormalLanguageGenerator.MQAR_KEYS, FormalLanguageGenerator.MQAR_KEYS,
            FormalLanguageGenerator.MQAR_KEYS, false, FormalLanguageGenerator.MQAR_MIN_LENGTH);

    private final String cliName;
    private final int inputSymbols;
    private final int firstLabelToken;
    private final int labelCount;
    private final boolean lastPosition;
    private final int minLength;

    FormalTask(String cliName, int inputSymbols, int firstLabelToken, int labelCount,
            boolean lastPosition, int minLength) {
        this.cliName = cliName;
        this.inputSymbols = inputSymbols;
        this.firstLabelToken = firstLabelToken;
        this.labelCount = labelCount;
        this.lastPosition = lastPosition;
        this.minLength = minLength;
    }

    /**
     * The task for a command-line name ({@code parity}, {@code even-pairs}, {@code cycle-navigation},
     * {@code modular-arithmetic}, {@code mqar}; case-insensitive, '_' accepted for '-').
     *
     * @throws IllegalArgumentException for an unknown name; the message lists the valid names
     */
    public static FormalTask parse(String name) {
        String key = name == null ? "" : name.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        for (FormalTask task : values()) {
            if (task.cliName.equals(key)) {
                return task;
            }
        }
        throw new IllegalArgumentException(
                "unknown formal-language task '" + name + "'; valid names: " + cliNames());
    }

    /** The valid command-line names, comma separated. */
    public static String cliNames() {
        return Arrays.stream(values()).map(FormalTask::cliName).collect(Collectors.joining(", "));
    }

    /** The command-line name, e.g. {@code even-pairs}. */
    public String cliName() {
        return cliName;
    }

    /** The size of the shared id space: input symbols, label symbols and PAD. */
    public int vocabSize() {
        return Math.max(inputSymbols, firstLabelToken + labelCount) + 1;
    }

    /** The PAD token id, {@code vocabSize() - 1}. */
    public long padToken() {
        return vocabSize() - 1L;
    }

    /** The number of input symbol ids, {@code [0, inputSymbols())}. */
    public int inputSymbols() {
        return inputSymbols;
    }

    /** The first label token id; labels are {@code [firstLabelToken(), firstLabelToken() + labelCount())}. */
    public int firstLabelToken() {
        return firstLabelToken;
    }

    /** The number of label token ids (answer classes). */
    public int labelCount() {
        return labelCount;
    }

    /**
     * Whether accuracy is measured at the last true position of each example (state-tracking tasks)
     * rather than over all labelled positions (MQAR: every query).
     */
    public boolean evaluatesLastPosition() {
        return lastPosition;
    }

    /** The shortest example the task can produce (MQAR: {@value FormalLanguageGenerator#MQAR_MIN_LENGTH}). */
    public int minLength() {
        return minLength;
    }

    /**
     * The length of an example generated for a requested length: the request itself, except that
     * modular arithmetic rounds an even request down to odd and MQAR clamps it to
     * {@link #minLength()}.
     */
    public int exampleLength(int requested) {
        if (requested < 1) {
            throw new IllegalArgumentException("length must be >= 1, got " + requested);
        }
        if (this == MODULAR_ARITHMETIC && requested % 2 == 0) {
            return requested - 1;
        }
        return Math.max(requested, minLength);
    }

    /** A random example of {@link #exampleLength(int) exampleLength(length)} tokens. */
    public FormalExample generate(Random random, int length, Supervision supervision) {
        return FormalLanguageGenerator.generate(this, random, length, supervision);
    }
}
