package ai.djl.xlstm.generate;

import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Generates text with an xLSTM language model on its recurrent state.
 *
 * <p>A prompt is prefilled with the model's sequence form (chunkwise or parallel mLSTM), in
 * segments of {@link GenerationConfig#prefillSegment()} tokens carrying the state, so any prompt
 * length runs in bounded memory; then tokens are decoded one at a time on the carried state, whose
 * size never grows: the cost per token is the same at position 100 and at position 100,000.
 *
 * <p>Several prompts generate together ({@link #generateBatch}): each is prefilled alone (a
 * recurrent model needs no padding), then their states are stacked and decoded as one batch;
 * a sequence that finishes leaves the batch, the others go on. Each sequence chooses its tokens
 * with its own random generator (seed + its index), so a batch gives the tokens each prompt gives
 * alone with that seed.
 *
 * <p>Every decoding step runs in its own {@link NDManager}, and the state moves from step to step
 * by {@link XLstmState#attach}, so native memory stays flat however many tokens are generated.
 * A generator is not thread-safe; use one per thread (they can share the model).
 *
 * <p>Sessions record a hash of the model's weights, which a generator computes once, the first
 * time one of its sessions is saved or loaded, and reuses: a generator assumes that its model's
 * weights no longer change. After changing them (training further, loading other weights), create
 * a new generator before saving or loading sessions (see {@link GenerationSession}).
 *
 * <p>A listener may be null (no streaming); every other argument must not be null, nor hold null
 * elements.
 */
public final class Generator {

    private final XLstmLanguageModel model;
    private final NDManager manager;
    private final TextCodec codec;
    private final Stepper stepper;
    /** The hash of the model's weights, computed when a session is first saved or loaded. */
    private final Supplier<String> weightsHash;

    /**
     * @param model the model (initialized)
     * @param manager the manager sessions and decoding scratch live under (its device is used)
     * @param codec the tokenizer, or null to work on token ids only
     * @throws IllegalArgumentException if the tokenizer has more tokens than the model's vocabulary
     */
    public Generator(XLstmLanguageModel model, NDManager manager, TextCodec codec) {
        this.model = Objects.requireNonNull(model, "model");
        this.manager = Objects.requireNonNull(manager, "manager");
        this.weightsHash = TensorDigest.weightsOnce(model);
        this.codec = codec;
        int vocab = model.getConfig().vocabSize();
        if (codec != null && codec.vocabularySize() > vocab) {
            throw new IllegalArgumentException("the tokenizer has " + codec.vocabularySize()
                    + " tokens but the model's vocabulary has " + vocab + ": they do not belong together");
        }
        this.stepper = new Stepper(model, manager, codec);
    }

    /**
     * The model.
     *
     * @return the model
     */
    public XLstmLanguageModel getModel() {
        return model;
    }

    /**
     * The tokenizer, or null.
     *
     * @return the tokenizer, or null
     */
    public TextCodec getCodec() {
        return codec;
    }

    /**
     * A new, empty session.
     *
     * @return a session with an empty state; the caller closes it
     */
    public GenerationSession newSession() {
        return new GenerationSession(model, weightsHash, manager);
    }

    /**
     * Restores a session saved by {@link GenerationSession#save} (refused if a model with another
     * config or other weights wrote it, or if the file is corrupted).
     *
     * @param file a file written by {@link GenerationSession#save}
     * @return the restored session; the caller closes it
     * @throws IOException if the file cannot be read
     */
    public GenerationSession loadSession(Path file) throws IOException {
        return GenerationSession.load(Objects.requireNonNull(file, "file"), model, weightsHash, manager);
    }

    /**
     * Generates a completion of {@code prompt} from an empty state.
     *
     * @param prompt the text to complete
     * @param config the decoding settings
     * @return the generated tokens, their text and timings
     */
    public GenerationResult generate(String prompt, GenerationConfig config) {
        return generate(prompt, config, null);
    }

    /**
     * Generates a completion of {@code prompt} from an empty state, streaming tokens to {@code
     * listener} (or null).
     *
     * @param prompt the text to complete
     * @param config the decoding settings
     * @param listener receives each token as it is chosen, or null
     * @return the generated tokens, their text and timings
     */
    public GenerationResult generate(String prompt, GenerationConfig config, TokenListener listener) {
        return generate(encode(prompt), config, listener);
    }

    /**
     * Generates a completion of the token ids {@code prompt} from an empty state.
     *
     * @param prompt the token ids to complete
     * @param config the decoding settings
     * @return the generated tokens, their text and timings
     */
    public GenerationResult generate(long[] prompt, GenerationConfig config) {
        return generate(prompt, config, null);
    }

    /**
     * Generates a completion of the token ids {@code prompt} from an empty state, streaming tokens.
     *
     * @param prompt the token ids to complete
     * @param config the decoding settings
     * @param listener receives each token as it is chosen, or null
     * @return the generated tokens, their text and timings
     */
    public GenerationResult generate(long[] prompt, GenerationConfig config, TokenListener listener) {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(config, "config");
        try (GenerationSession session = newSession()) {
            return run(List.of(session), List.of(prompt), config, listener, false).get(0);
        }
    }

    /**
     * Continues {@code session}: feeds {@code prompt} (may be empty when the session is not),
     * generates, and leaves the session after the last generated token, ready to go on or to be
     * saved.
     *
     * @param session the session to continue
     * @param prompt the text to feed first (may be empty when the session is not)
     * @param config the decoding settings
     * @param listener receives each token as it is chosen, or null
     * @return the generated tokens, their text and timings
     */
    public GenerationResult generate(
            GenerationSession session, String prompt, GenerationConfig config, TokenListener listener) {
        Objects.requireNonNull(session, "session");
        return generate(session, encode(prompt), config, listener);
    }

    /**
     * As {@link #generate(GenerationSession, String, GenerationConfig, TokenListener)}, on token ids.
     *
     * @param session the session to continue
     * @param prompt the token ids to feed first (may be empty when the session is not)
     * @param config the decoding settings
     * @param listener receives each token as it is chosen, or null
     * @return the generated tokens, their text and timings
     */
    public GenerationResult generate(
            GenerationSession session, long[] prompt, GenerationConfig config, TokenListener listener) {
        Objects.requireNonNull(session, "session");
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(config, "config");
        return run(List.of(session), List.of(prompt), config, listener, true).get(0);
    }

    /**
     * Generates completions of several prompts together (see the class comment); the results are
     * in prompt order and equal those of generating each prompt alone. Beam search runs the
     * prompts one after the other, each as a batch of beams.
     *
     * @param prompts the texts to complete
     * @param config the decoding settings
     * @param listener receives each token of every prompt as it is chosen, or null
     * @return the results, in prompt order
     */
    public List<GenerationResult> generateBatch(List<String> prompts, GenerationConfig config, TokenListener listener) {
        requireElements(prompts, "prompts");
        List<long[]> ids = new ArrayList<>();
        for (String p : prompts) {
            ids.add(encode(p));
        }
        return generateBatchIds(ids, config, listener);
    }

    /**
     * As {@link #generateBatch}, on token ids.
     *
     * @param prompts the token ids to complete
     * @param config the decoding settings
     * @param listener receives each token of every prompt as it is chosen, or null
     * @return the results, in prompt order
     */
    public List<GenerationResult> generateBatchIds(List<long[]> prompts, GenerationConfig config, TokenListener listener) {
        requireElements(prompts, "prompts");
        Objects.requireNonNull(config, "config");
        List<GenerationSession> sessions = new ArrayList<>();
        try {
            for (int i = 0; i < prompts.size(); i++) {
                sessions.add(newSession());
            }
            return run(sessions, prompts, config, listener, false);
        } finally {
            sessions.forEach(GenerationSession::close);
        }
    }

    /**
     * Generates with an {@link Iterator}: tokens are produced as they are pulled.
     * Close the stream to stop early; the session then holds the tokens generated so far.
     *
     * @param session the session to continue
     * @param prompt the text to feed first
     * @param config the decoding settings (no beam search)
     * @return the tokens, produced as they are pulled
     */
    public TokenStream stream(GenerationSession session, String prompt, GenerationConfig config) {
        Objects.requireNonNull(session, "session");
        return stream(session, encode(prompt), config);
    }

    /**
     * As {@link #stream(GenerationSession, String, GenerationConfig)}, on token ids.
     *
     * @param session the session to continue
     * @param prompt the token ids to feed first
     * @param config the decoding settings (no beam search)
     * @return the tokens, produced as they are pulled
     */
    public TokenStream stream(GenerationSession session, long[] prompt, GenerationConfig config) {
        Objects.requireNonNull(session, "session");
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(config, "config");
        if (config.numBeams() > 1) {
            throw new IllegalArgumentException("beam search cannot stream (numBeams = " + config.numBeams()
                    + "): its best sequence is known only at the end");
        }
        ArrayDeque<GeneratedToken> queue = new ArrayDeque<>();
        DecodeLoop loop = new DecodeLoop(stepper, List.of(session), List.of(prompt), config, queue::add, true);
        return new TokenStream(loop, queue);
    }

    /**
     * The longest segment a prompt is prefilled in, whatever the setting: a forward pass holds
     * activations for all its tokens, so longer segments need more memory and are not faster.
     */
    public static final int MAX_PREFILL_SEGMENT = 4096;

    /**
     * Feeds {@code tokens} to {@code session} in segments of {@code segment} tokens (at most {@link
     * #MAX_PREFILL_SEGMENT}), carrying the state: bounded memory for any length.
     *
     * @param session the session to feed
     * @param tokens the token ids to feed
     * @param segment the most tokens per forward pass
     */
    public void prefill(GenerationSession session, long[] tokens, int segment) {
        Objects.requireNonNull(session, "session");
        Objects.requireNonNull(tokens, "tokens");
        stepper.feed(session, tokens, segment);
    }

    /**
     * Checks that {@code list} and its elements are not null; the message names the list or the
     * element ({@code prompts[2] is null}).
     */
    static void requireElements(List<?> list, String name) {
        Objects.requireNonNull(list, name);
        int i = 0;
        for (Object element : list) {
            if (element == null) {
                throw new IllegalArgumentException(name + "[" + i + "] is null");
            }
            i++;
        }
    }

    long[] encode(String prompt) {
        if (prompt == null) {
            throw new IllegalArgumentException("prompt must not be null (use \"\" to continue a session)");
        }
        if (prompt.isEmpty()) {
            return new long[0];
        }
        if (codec == null) {
            throw new IllegalStateException("this generator has no tokenizer: pass token ids instead of text");
        }
        return codec.encode(prompt);
    }

    private List<GenerationResult> run(
            List<GenerationSession> sessions, List<long[]> prompts, GenerationConfig config,
            TokenListener listener, boolean feedLast) {
        if (sessions.size() != prompts.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts for " + sessions.size() + " sessions");
        }
        if (config.numBeams() > 1) {
            List<GenerationResult> results = new ArrayList<>();
            for (int i = 0; i < sessions.size(); i++) {
                results.add(new BeamSearch(stepper, sessions.get(i), prompts.get(i), config, i, listener, feedLast).run());
            }
            return results;
        }
        try (DecodeLoop loop = new DecodeLoop(stepper, sessions, prompts, config, listener, feedLast)) {
            while (loop.step()) { // each step decodes one token of every unfinished sequence
                if (Thread.currentThread().isInterrupted()) {
                    loop.cancel(); // the interrupt stays set for the caller to see
                    break;
                }
            }
            return loop.results();
        }
    }

    /** The model steps the decoding loops run on. */
    Stepper stepper() {
        return stepper;
    }

    /** A token stream; see {@link #stream}. */
    public static final class TokenStream implements Iterator<GeneratedToken>, AutoCloseable {
        private final DecodeLoop loop;
        private final ArrayDeque<GeneratedToken> queue;
        private boolean more = true;
        private volatile boolean cancelled;

        TokenStream(DecodeLoop loop, ArrayDeque<GeneratedToken> queue) {
            this.loop = loop;
            this.queue = queue;
        }

        /**
         * Computes the next token if none is waiting; false once generation has finished, or (once
         * the tokens already produced are read) after {@link #cancel}, {@link #close} or an
         * interrupt of the consuming thread (which stays set).
         */
        @Override
        public synchronized boolean hasNext() {
            while (queue.isEmpty() && more) {
                if (cancelled || Thread.currentThread().isInterrupted()) {
                    stop();
                    break;
                }
                more = loop.step();
            }
            return !queue.isEmpty();
        }

        @Override
        public synchronized GeneratedToken next() {
            if (!hasNext()) {
                throw new NoSuchElementException("generation has finished");
            }
            return queue.poll();
        }

        /**
         * The result, once {@link #hasNext()} has returned false (after a cancel: what was generated,
         * with {@link FinishReason#CANCELLED}).
         *
         * @return the result of the generation
         */
        public synchronized GenerationResult result() {
            if (hasNext()) {
                throw new IllegalStateException("generation has not finished: drain the stream first");
            }
            return loop.results().get(0);
        }

        /**
         * Stops generation from any thread: the consumer's next {@code hasNext} returns false. Safe to
         * call while the consumer is inside a step; that step completes.
         */
        public void cancel() {
            cancelled = true;
        }

        /**
         * Stops and frees the generation's memory; from another thread this waits for the step in
         * progress (at most one step). The session then holds the tokens generated so far.
         */
        @Override
        public void close() {
            cancelled = true;
            synchronized (this) {
                stop();
            }
        }

        /**
         * Ends generation; tokens already produced stay to be read, so that a {@code next()} after a
         * {@code hasNext()} that returned true still gets its token when another thread closed the
         * stream in between.
         */
        private void stop() {
            if (more) {
                more = false;
                loop.cancel();
            } else {
                loop.close();
            }
        }
    }

}
