package ai.djl.xlstm.zoo;

import ai.djl.xlstm.generate.FinishReason;
import ai.djl.xlstm.generate.GenerationResult;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * Generated text as it arrives: each element is the text completed by the next token(s), safe to
 * print (never half a character, never part of a stop string). The output type of a zoo model's
 * streaming translator: {@code predictor.streamingPredict(prompt).getIterativeOutput()}.
 *
 * <p>Close it to stop early and free the request's memory (iterating to the end closes it too).
 * One consumer thread at a time.
 */
public final class TextStream implements Iterator<String>, AutoCloseable {

    /** What a stream reads from: generated pieces, and the result once finished. */
    interface Source extends AutoCloseable {

        /** The next non-empty piece, or null when generation has finished. */
        String nextPiece();

        /** The result: generates the rest first; fails once closed before the end. */
        GenerationResult result();

        @Override
        void close();
    }

    private final Source source;
    private String next;
    private boolean done;

    TextStream(Source source) {
        this.source = source;
    }

    /**
     * Whether another piece comes: waits for the next token(s) if needed (the end closes the
     * stream).
     *
     * @return true if {@link #next()} has a piece
     */
    @Override
    public boolean hasNext() {
        if (next == null && !done) {
            next = source.nextPiece();
            if (next == null) {
                done = true;
                source.close();
            }
        }
        return next != null;
    }

    /**
     * The next piece of text.
     *
     * @return the text completed by the next token(s)
     * @throws NoSuchElementException if the stream has ended
     */
    @Override
    public String next() {
        if (!hasNext()) {
            throw new NoSuchElementException("the text stream has ended");
        }
        String piece = next;
        next = null;
        return piece;
    }

    /**
     * The whole result (text, tokens, log-probabilities, finish reason): generates the rest first
     * if the stream has not ended.
     *
     * @return the result of the generation
     * @throws IllegalStateException if the stream was closed before generation finished
     */
    public GenerationResult result() {
        while (hasNext()) {
            next();
        }
        return source.result();
    }

    /**
     * Why generation stopped (generates the rest first if the stream has not ended).
     *
     * @return the finish reason
     */
    public FinishReason finishReason() {
        return result().finishReason();
    }

    /** Stops generating and frees the request's memory (the pieces already read are the text so far). */
    @Override
    public void close() {
        done = true;
        next = null;
        source.close();
    }
}
