package ai.djl.xlstm.generate;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Turns generated tokens into text as they arrive, releasing only text that is final.
 *
 * <p>Two things keep text back. (1) A byte-level BPE token may end in the middle of a UTF-8
 * character; decoding it then ends in U+FFFD, so the text of the tokens since the last release is
 * released only when its decoding grows and does not end in U+FFFD (decoding a short window of
 * tokens with a little context before it, so leading spaces come out right). (2) Text that could be
 * the start of a stop string is held until it is known not to be; when a stop string appears, the
 * text is cut before it and nothing more is released.
 */
final class StreamingDecoder {

    private static final int CONTEXT_TOKENS = 4;
    private static final char REPLACEMENT = '\uFFFD';

    private final TextCodec codec;
    private final List<String> stopStrings;
    private final int longestStop;
    private long[] tokens;
    private int size;
    private int prefixOffset;
    private int readOffset;
    private final StringBuilder text = new StringBuilder();
    private int released;
    private int searched;
    private boolean stopped;

    /**
     * @param codec the tokenizer
     * @param context the tokens before the generated ones (the last few are used as decoding
     *     context), may be empty
     * @param stopStrings texts that end generation
     */
    StreamingDecoder(TextCodec codec, long[] context, List<String> stopStrings) {
        Objects.requireNonNull(context, "context");
        Generator.requireElements(stopStrings, "stopStrings");
        this.codec = Objects.requireNonNull(codec, "codec");
        this.stopStrings = List.copyOf(stopStrings);
        this.longestStop = this.stopStrings.stream().mapToInt(String::length).max().orElse(0);
        int keep = Math.min(CONTEXT_TOKENS, context.length);
        this.tokens = Arrays.copyOfRange(context, context.length - keep, Math.max(context.length, keep + 16));
        this.size = keep;
        this.prefixOffset = 0;
        this.readOffset = keep;
    }

    /** A decoder in the same position as {@code from}, going on independently of it. */
    private StreamingDecoder(StreamingDecoder from) {
        this.codec = from.codec;
        this.stopStrings = from.stopStrings;
        this.longestStop = from.longestStop;
        this.tokens = from.tokens.clone();
        this.size = from.size;
        this.prefixOffset = from.prefixOffset;
        this.readOffset = from.readOffset;
        this.text.append(from.text);
        this.released = from.released;
        this.searched = from.searched;
        this.stopped = from.stopped;
    }

    /**
     * An independent copy, for a sequence that branches (a beam's hypotheses share their past).
     *
     * @return a decoder that has seen the same tokens and goes on separately
     */
    StreamingDecoder copy() {
        return new StreamingDecoder(this);
    }

    /**
     * Adds a generated token; returns the text it makes final (often empty).
     *
     * @param id the token id
     * @return the text made final, possibly empty
     */
    public String push(long id) {
        if (stopped) {
            return "";
        }
        if (size == tokens.length) {
            tokens = Arrays.copyOf(tokens, size * 2);
        }
        tokens[size++] = id;
        String before = codec.decode(Arrays.copyOfRange(tokens, prefixOffset, readOffset));
        String after = codec.decode(Arrays.copyOfRange(tokens, prefixOffset, size));
        if (after.length() > before.length() && after.charAt(after.length() - 1) != REPLACEMENT
                && after.startsWith(before)) {
            text.append(after, before.length(), after.length());
            prefixOffset = readOffset;
            readOffset = size;
        }
        return release(false);
    }

    /**
     * Releases everything still held back (generation ended); returns it.
     *
     * @return the text held back until now
     */
    public String finish() {
        if (!stopped && readOffset < size) {
            String before = codec.decode(Arrays.copyOfRange(tokens, prefixOffset, readOffset));
            String after = codec.decode(Arrays.copyOfRange(tokens, prefixOffset, size));
            text.append(after.startsWith(before) ? after.substring(before.length()) : after);
            readOffset = size;
        }
        return release(true);
    }

    /**
     * Whether a stop string has appeared.
     *
     * @return whether a stop string has appeared
     */
    public boolean stopped() {
        return stopped;
    }

    /**
     * All text released so far.
     *
     * @return the text released so far
     */
    public String text() {
        return text.substring(0, released);
    }

    private String release(boolean all) {
        if (stopped) {
            return "";
        }
        int from = Math.max(0, searched - longestStop + 1);
        int cut = -1;
        for (String s : stopStrings) {
            int at = text.indexOf(s, from);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        searched = text.length();
        if (cut >= 0) {
            stopped = true;
            text.setLength(Math.max(cut, released));
        }
        int end = stopped || all ? text.length() : Math.max(released, text.length() - heldForStop());
        String out = text.substring(released, end);
        released = end;
        return out;
    }

    /** The length of the longest end of the text that is a proper prefix of a stop string. */
    private int heldForStop() {
        int best = 0;
        for (String s : stopStrings) {
            for (int k = Math.min(s.length() - 1, text.length()); k > best; k--) {
                if (text.substring(text.length() - k).equals(s.substring(0, k))) {
                    best = k;
                    break;
                }
            }
        }
        return best;
    }
}
