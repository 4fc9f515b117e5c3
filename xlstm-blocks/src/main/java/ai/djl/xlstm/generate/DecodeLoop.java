package ai.djl.xlstm.generate;

import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.state.XLstmState;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The batched decoding loop behind {@link Generator} (greedy and sampling), run on a {@link
 * Stepper}: one {@link #step()} feeds every unfinished sequence its last chosen token, as one
 * batch, and chooses its next one.
 *
 * <p>With {@code feedLast}, a finished sequence rides along one more step so that its session's
 * state has consumed its last token too (the session can then continue or be saved); then its
 * row of the state goes back to its session and the batch shrinks by selecting the other rows.
 */
final class DecodeLoop implements AutoCloseable {

    private final Stepper stepper;
    private final GenerationConfig config;
    private final boolean feedLast;
    private final int vocab;
    private final List<Sequence> sequences = new ArrayList<>();
    private final TokenListener listener;
    private List<Sequence> active = new ArrayList<>();
    private XLstmState state; // the batch state, or null while `current` holds it
    private Stepper.Output current; // the last step's output, whose state is made only when needed
    private NDManager stateManager;
    private float[] lastLogits;

    DecodeLoop(Stepper stepper, List<GenerationSession> sessions, List<long[]> prompts,
            GenerationConfig config, TokenListener listener, boolean feedLast) {
        this.stepper = stepper;
        this.config = config;
        this.listener = listener;
        this.feedLast = feedLast;
        this.vocab = stepper.vocab();
        for (int i = 0; i < sessions.size(); i++) {
            GenerationSession session = sessions.get(i);
            stepper.requireOwn(session, "session " + i);
            long start = System.nanoTime();
            int promptTokens = stepper.prefill(session, prompts.get(i), config);
            sequences.add(new Sequence(i, session, promptTokens, System.nanoTime() - start));
        }
        long decodeStart = System.nanoTime();
        for (Sequence s : sequences) {
            s.decodeStart = decodeStart;
            if (config.maxNewTokens() == 0) {
                s.finish(FinishReason.LENGTH);
            } else {
                s.take(s.session.nextLogitsView(), 0);
                if (!s.isDone() || feedLast) {
                    active.add(s);
                }
            }
        }
        if (!active.isEmpty()) {
            stateManager = stepper.newScope();
            List<XLstmState> states = new ArrayList<>();
            for (Sequence s : active) {
                states.add(s.session.state());
            }
            state = XLstmState.concat(states).attach(stateManager);
        }
    }

    /** Decodes one token of every unfinished sequence; returns whether any is left. */
    boolean step() {
        if (active.isEmpty()) {
            return false;
        }
        long[] tokens = new long[active.size()];
        for (int r = 0; r < tokens.length; r++) {
            tokens[r] = active.get(r).pending;
        }
        NDManager next = stepper.newScope();
        Stepper.Output out = current != null ? stepper.step(current, tokens, next) : stepper.step(state, tokens, next);
        stateManager.close();
        stateManager = next;
        current = out;
        state = null;
        lastLogits = out.logits();
        List<Sequence> still = new ArrayList<>();
        List<Long> rows = new ArrayList<>();
        for (int r = 0; r < active.size(); r++) {
            Sequence s = active.get(r);
            s.fed++;
            if (s.isDone()) {
                returnToSession(s, r);
                continue;
            }
            s.take(lastLogits, r * vocab);
            if (!s.isDone() || feedLast) {
                still.add(s);
                rows.add((long) r);
            }
        }
        if (still.isEmpty()) {
            closeState();
        } else if (still.size() < active.size()) {
            state = state().select(rows.stream().mapToLong(Long::longValue).toArray());
            current = null;
            float[] kept = new float[rows.size() * vocab]; // keep lastLogits row-aligned with the state
            for (int r = 0; r < rows.size(); r++) {
                System.arraycopy(lastLogits, (int) (long) rows.get(r) * vocab, kept, r * vocab, vocab);
            }
            lastLogits = kept;
        }
        active = still;
        return !active.isEmpty();
    }

    /** How many sequences are still being decoded. */
    int activeCount() {
        return active.size();
    }

    /** The results, in sequence order (once {@link #step()} has returned false). */
    List<GenerationResult> results() {
        List<GenerationResult> out = new ArrayList<>();
        for (Sequence s : sequences) {
            out.add(s.result());
        }
        return out;
    }

    /**
     * Ends every unfinished sequence with {@link FinishReason#CANCELLED} (keeping what it has
     * generated) and stops, freeing the batch's memory.
     */
    void cancel() {
        for (Sequence s : sequences) {
            if (!s.isDone()) {
                s.finish(FinishReason.CANCELLED);
            }
        }
        close();
    }

    /**
     * Stops. With {@code feedLast}, a sequence cut short leaves its session after its last fed
     * token (its chosen but unfed token is dropped; the session's logits are those it came from).
     */
    @Override
    public void close() {
        if (feedLast && (state != null || current != null) && lastLogits != null) {
            for (int r = 0; r < active.size(); r++) {
                Sequence s = active.get(r);
                if (s.fed > 0) {
                    returnToSession(s, r);
                }
            }
        }
        active = new ArrayList<>();
        closeState();
    }

    /** Moves row {@code row} of the batch (state and logits) into {@code s}'s session, past its fed tokens. */
    private void returnToSession(Sequence s, int row) {
        s.session.advance(state().select(row), Arrays.copyOfRange(lastLogits, row * vocab, (row + 1) * vocab),
                Arrays.copyOf(s.generated, s.fed));
    }

    /** The batch state as libtorch arrays. */
    private XLstmState state() {
        return current != null ? current.state() : state;
    }

    private void closeState() {
        if (stateManager != null) {
            stateManager.close();
            stateManager = null;
        }
        state = null;
        current = null;
    }

    /** One sequence of the batch. */
    private final class Sequence {
        final int index;
        final GenerationSession session;
        final int promptTokens;
        final long prefillNanos;
        final TokenChooser chooser;
        final StreamingDecoder decoder;
        long[] generated = new long[16];
        double[] logProbs = new double[16];
        int count;
        int fed;
        long pending;
        long decodeStart;
        long decodeNanos;
        FinishReason reason;

        Sequence(int index, GenerationSession session, int promptTokens, long prefillNanos) {
            this.index = index;
            this.session = session;
            this.promptTokens = promptTokens;
            this.prefillNanos = prefillNanos;
            long[] history = session.tokensView();
            this.chooser = new TokenChooser(config, config.seed() + index, vocab, history);
            this.decoder = stepper.newDecoder(history, config.stopStrings());
        }

        boolean isDone() {
            return reason != null;
        }

        /** Chooses the next token from the logits at {@code offset}, streams it and checks the stop rules. */
        void take(float[] logits, int offset) {
            long id = chooser.choose(logits, offset);
            double logProb = TokenChooser.logProb(logits, offset, vocab, id);
            if (Double.isNaN(logProb)) {
                throw new IllegalStateException("the model produced NaN logits for sequence " + index + " after "
                        + count + " generated tokens");
            }
            chooser.observe(id);
            if (count == generated.length) {
                generated = Arrays.copyOf(generated, count * 2);
                logProbs = Arrays.copyOf(logProbs, count * 2);
            }
            generated[count] = id;
            logProbs[count] = logProb;
            count++;
            pending = id;
            String text = "";
            FinishReason r = null;
            if (config.eosTokenIds().contains(id)) {
                r = FinishReason.EOS;
            } else if (decoder != null) {
                text = decoder.push(id);
                if (decoder.stopped()) {
                    r = FinishReason.STOP;
                }
            }
            if (r == null && count >= config.maxNewTokens()) {
                r = FinishReason.LENGTH;
            }
            if (r != null) {
                if (decoder != null) {
                    text += decoder.finish();
                }
                finish(r);
            }
            if (listener != null) {
                listener.onToken(new GeneratedToken(index, id, logProb, text));
            }
        }

        void finish(FinishReason r) {
            reason = r;
            decodeNanos = System.nanoTime() - decodeStart;
        }

        GenerationResult result() {
            return new GenerationResult(Arrays.copyOf(generated, count), decoder == null ? null : decoder.text(),
                    Arrays.copyOf(logProbs, count), reason, promptTokens, prefillNanos, decodeNanos,
                    config.isGreedy() ? null : config.seed() + index);
        }
    }
}
