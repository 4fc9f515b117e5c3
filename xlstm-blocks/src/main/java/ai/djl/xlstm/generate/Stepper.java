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

    Stepper(XLstmLanguageModel model, NDManager manager, TextCodec codec) {
        this.model = model;
        this.manager = manager;
        this.codec = codec;
        this.ps = new ParameterStore(manager, false);
        this.vocab = model.getConfig().vocabSize();
    }


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
     * The most rows a step runs on the CPU decoder; larger batches run on libtorch, whose matrix
     * products use every core (the CPU step is one thread).
     */
    static final int MAX_CPU_BATCH = 64;

    /** The CPU decoder for a step of {@code rows} rows, or empty where libtorch runs it. */
    private Optional<CpuDecoder> cpuDecoder(int rows) {
        if (rows > MAX_CPU_BATCH || CpuDecoder.libtorchOnly()) {
            return Optional.empty();
        }
        return CpuDecoder.current(model);
    }

    /**
     * Runs one decoding step: feeds {@code tokens [B]} from {@code state} and returns the logits
     * {@code [B * V]} (on the JVM) with the new state, attached to {@code into}.
     */
    Output step(XLstmState state, long[] tokens, NDManager into) {
        Optional<CpuDecoder> decoder = cpuDecoder(tokens.length);
        if (decoder.isPresent()) {
            return stepOnCpu(decoder.get(), decoder.get().states(state), tokens, into);
        }
        try (NDManager scratch = manager.newSubManager()) {
            NDArray input = scratch.create(tokens).reshape(tokens.length, 1); // [B, 1]
            LmOutput out = model.forwardLast(ps, input, state);
            float[] logits = out.logits().toFloatArray(); // [B * V]
            return new Output(logits, out.state().attach(into), null, null, null);
        }
    }

    /**
     * Continues from {@code previous}, the output of the last step: in place on the CPU decoder
     * when that step ran there with as many rows and its state was not asked for (no copy to
     * libtorch arrays at all), else from its state. {@code previous} is spent: its state can no
     * longer be asked for.
     */
    Output step(Output previous, long[] tokens, NDManager into) {
        if (previous.cpuStates != null && previous.state == null && previous.cpuStates.length == tokens.length) {
            Optional<CpuDecoder> decoder = cpuDecoder(tokens.length);
            if (decoder.isPresent() && decoder.get() == previous.decoder) {
                CpuDecoder.State[] s = previous.cpuStates;
                previous.spend();
                return stepOnCpu(decoder.get(), s, tokens, into);
            }
        }
        XLstmState state = previous.state();
        previous.spend();
        return step(state, tokens, into);
    }

    /**
     * A step on the CPU decoder (Java and the Vector API: no native call per tensor operation;
     * each weight read once for all rows), advancing {@code s} in place. The libtorch form of the
     * new state is made only if asked for ({@link Output#state()}).
     */
    private Output stepOnCpu(CpuDecoder decoder, CpuDecoder.State[] s, long[] tokens, NDManager into) {
        int[] ids = new int[tokens.length];
        for (int b = 0; b < ids.length; b++) {
            ids[b] = Math.toIntExact(tokens[b]);
        }
        float[] logits = decoder.step(ids, s); // [B * V]
        return new Output(logits, null, decoder, s, into);
    }

    /**
     * Logits copied to the JVM, with the state that follows them: libtorch arrays, or the CPU
     * decoder's states (one per row), turned into libtorch arrays (in the step's manager) when
     * first asked for.
     */
    static final class Output {
        private final float[] logits; // [B * V]
        private XLstmState state;
        private final CpuDecoder decoder;
        private CpuDecoder.State[] cpuStates;
        private final NDManager into;

        private Output(float[] logits, XLstmState state, CpuDecoder decoder, CpuDecoder.State[] cpuStates,
                NDManager into) {
            this.logits = logits;
            this.state = state;
            this.decoder = decoder;
            this.cpuStates = cpuStates;
            this.into = into;
        }

        /** The logits {@code [B * V]}. */
        float[] logits() {
            return logits;
        }

        /** The state after the step, as libtorch arrays. */
        XLstmState state() {
            if (state == null) {
                if (cpuStates == null) {
                    throw new IllegalStateException("a later step has advanced this state in place");
                }
                state = decoder.toXLstmState(cpuStates, into);
            }
            return state;
        }

        /** A later step continues from this one: the CPU states are no longer this step's. */
        private void spend() {
            cpuStates = null;
        }
    }
}
