package ai.djl.xlstm.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.internal.decode.CpuDecoder;
import ai.djl.xlstm.model.LmOutput;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;

/**
 * What the decoding loops ({@link DecodeLoop}, {@link BeamSearch}) need of the model: prefill a
 * prompt into a session, run one step on a batch state, and open the stop-string matcher. The
 * loops depend on this, not on {@link Generator}, which builds one from its model, manager and
 * tokenizer (as NX-AI's {@code generate_tokens} takes an {@code llm_forward} function and llama2.c's
 * {@code generate()} calls {@code forward(token, pos)}).
 */
final class Stepper {

    private final XLstmLanguageModel model;
    private final NDManager manager;
    private final ParameterStore ps;
    private final TextCodec codec;
    private final int vocab;
    /** The last batch-1 step on the CPU decoder: its state, and the libtorch copy handed out. */
    private volatile FastStep lastFast;

    /**
     * Forces every step onto libtorch (no CPU decode step): {@code -Dai.djl.xlstm.decode.libtorch=true},
     * for comparisons and benchmarks.
     */
    static final String LIBTORCH_ONLY = "ai.djl.xlstm.decode.libtorch";

    Stepper(XLstmLanguageModel model, NDManager manager, TextCodec codec) {
        this.model = model;
        this.manager = manager;
        this.codec = codec;
        this.ps = new ParameterStore(manager, false);
        this.vocab = model.getConfig().vocabSize();
    }

    /** A state of the CPU decoder and the {@link XLstmState} it was handed out as. */
    private record FastStep(CpuDecoder decoder, XLstmState handedOut, CpuDecoder.State state) {}

    /** The model's vocabulary size {@code V}. */
    int vocab() {
        return vocab;
    }

    /** Whether there is a tokenizer (text and stop strings need one). */
    boolean hasCodec() {
        return codec != null;
    }

    /** Refuses a session of another model; {@code what} names it in the message. */
    void requireOwn(GenerationSession session, String what) {
        if (session.getModel() != model) {
            throw new IllegalArgumentException(what + " belongs to another model than this generator's");
        }
    }

    /**
     * The stop-string matcher and text streamer of a sequence generated after {@code context} (the
     * session's tokens), or null without a tokenizer. Both loops match stop strings with it, so they
     * agree on where a sequence stops.
     */
    StreamingDecoder newDecoder(long[] context, List<String> stopStrings) {
        return codec == null ? null : new StreamingDecoder(codec, context, stopStrings);
    }

    /**
     * Prefills {@code prompt} into {@code session} (a BOS token when both are empty) and returns
     * the number of prompt tokens fed.
     */
    int prefill(GenerationSession session, long[] prompt, GenerationConfig config) {
        long[] ids = prompt;
        if (ids.length == 0 && session.isEmpty()) {
            if (config.bosTokenId() == null) {
                throw new IllegalArgumentException(
                        "the prompt is empty and the session has no state, but no BOS token is set (bosTokenId):"
                                + " there is nothing to generate from");
            }
            ids = new long[] {config.bosTokenId()};
        }
        feed(session, ids, config.prefillSegment());
        return ids.length;
    }

    /**
     * Feeds {@code tokens} to {@code session} in segments of {@code segment} tokens (at most {@link
     * Generator#MAX_PREFILL_SEGMENT}), carrying the state: bounded memory for any length.
     */
    void feed(GenerationSession session, long[] tokens, int segment) {
        requireOwn(session, "the session");
        if (segment < 1) {
            throw new IllegalArgumentException("prefill segment must be >= 1, got " + segment);
        }
        GenerationSession.validateIds(tokens, vocab, "prompt");
        int step = Math.min(segment, Generator.MAX_PREFILL_SEGMENT);
        for (int start = 0; start < tokens.length; start += step) {
            if (Thread.currentThread().isInterrupted()) {
                throw new CancellationException("interrupted while reading the prompt ("
                        + start + " of " + tokens.length + " tokens read)");
            }
            long[] part = Arrays.copyOfRange(tokens, start, Math.min(tokens.length, start + step));
            try (NDManager scratch = manager.newSubManager()) {
                NDArray input = scratch.create(part).reshape(1, part.length); // [1, S]
                LmOutput out = model.forwardLast(ps, input, session.state());
                session.advance(out.state(), out.logits().toFloatArray(), part);
            }
        }
    }

    /** A new manager for a batch state, under the generator's manager; the caller closes it. */
    NDManager newScope() {
        return manager.newSubManager();
    }

    /**
     * Runs one decoding step: feeds {@code tokens [B]} from {@code state} and returns the logits
     * {@code [B * V]} (on the JVM) with the new state, attached to {@code into}.
     */
    Output step(XLstmState state, long[] tokens, NDManager into) {
        if (tokens.length == 1 && !Boolean.getBoolean(LIBTORCH_ONLY)) {
            Optional<CpuDecoder> decoder = CpuDecoder.current(model);
            if (decoder.isPresent()) {
                return stepOnCpu(decoder.get(), state, tokens[0], into);
            }
        }
        try (NDManager scratch = manager.newSubManager()) {
            NDArray input = scratch.create(tokens).reshape(tokens.length, 1); // [B, 1]
            LmOutput out = model.forwardLast(ps, input, state);
            float[] logits = out.logits().toFloatArray(); // [B * V]
            return new Output(logits, out.state().attach(into));
        }
    }

    /**
     * A batch-1 step on the CPU decoder (Java and the Vector API: no native call per tensor
     * operation). The decoder's state carries on from the last step when {@code state} is what
     * that step handed out, else it is copied from {@code state}; either way the new state is also
     * handed out as libtorch arrays, so the loops, sessions and the libtorch path continue from it.
     */
    private Output stepOnCpu(CpuDecoder decoder, XLstmState state, long token, NDManager into) {
        FastStep last = lastFast;
        CpuDecoder.State s;
        if (last != null && last.handedOut() == state && last.decoder() == decoder) {
            lastFast = null; // claimed: stepped in place below
            s = last.state();
        } else {
            s = decoder.state(state);
        }
        float[] logits = decoder.step((int) token, s); // [V]
        XLstmState out = decoder.toXLstmState(s, into);
        lastFast = new FastStep(decoder, out, s);
        return new Output(logits, out);
    }

    /** Logits copied to the JVM, with the state that follows them. */
    record Output(float[] logits, XLstmState state) {}
}
