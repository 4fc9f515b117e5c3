package ai.djl.xlstm.examples.formal;

import java.util.Arrays;

/**
 * One unpadded formal-language example: input token ids and, position by position, the label token
 * the causal model must predict there, or {@link #IGNORE} where the position carries no label.
 *
 * <p>Arrays are not copied; treat them as read-only. Equality is by content.
 *
 * @param tokens the input token ids, length {@code L >= 1}
 * @param labels the label token ids or {@link #IGNORE}, length {@code L}
 */
public record FormalExample(long[] tokens, long[] labels) {

    /** Label of a position without supervision (the usual ignore index of cross-entropy losses). */
    public static final long IGNORE = -100;

    /** Checks that tokens and labels are present, non-empty and equally long. */
    public FormalExample {
        if (tokens == null || labels == null || tokens.length == 0 || tokens.length != labels.length) {
            throw new IllegalArgumentException("tokens and labels must be non-empty and equally long");
        }
    }

    /** The true (unpadded) length L. */
    public int length() {
        return tokens.length;
    }

    /** The tokens padded at the end to {@code length} with {@code padToken}. */
    public long[] paddedTokens(int length, long padToken) {
        return pad(tokens, length, padToken);
    }

    /** The labels padded at the end to {@code length} with {@link #IGNORE}. */
    public long[] paddedLabels(int length) {
        return pad(labels, length, IGNORE);
    }

    private static long[] pad(long[] values, int length, long fill) {
        if (length < values.length) {
            throw new IllegalArgumentException("cannot pad length " + values.length + " to " + length);
        }
        long[] out = Arrays.copyOf(values, length);
        Arrays.fill(out, values.length, length, fill);
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FormalExample e
                && Arrays.equals(tokens, e.tokens)
                && Arrays.equals(labels, e.labels);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(tokens) + Arrays.hashCode(labels);
    }

    @Override
    public String toString() {
        return "FormalExample[tokens=" + Arrays.toString(tokens) + ", labels=" + Arrays.toString(labels) + "]";
    }
}
