package ai.djl.xlstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.model.LmOutput;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Inference over long sequences runs in bounded memory: the model cuts a pass into segments that
 * carry the recurrent state ({@link XLstmLanguageModel#setInferenceSegment(int)}), frees each
 * segment, and gives the same outputs as one pass.
 */
class LongSequenceMemoryTest {

    private static final int VOCAB = 50;

    /**
     * Segmented and one-pass outputs agree (logits, state, last logits), for both architectures,
     * a batch of 2 and a length that is no multiple of the segment: a segment that started from the
     * zero state instead of the carried one would change every later logit.
     */
    @Test
    void segmentedPassesEqualOnePass() {
        for (XLstmConfig config : List.of(TestModels.neurips(3, List.of(1), VOCAB), TestModels.large(VOCAB, 8))) {
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = TestModels.randomModel(config, manager, 3, 0.2f);
                if (config.architecture().equals("xlstm-neurips")) {
                    model.setForm(MLstmForm.chunkwise(16));
                }
                ParameterStore ps = new ParameterStore(manager, false);
                NDArray tokens = TestModels.randomTokens(manager, 2, 141, VOCAB);
                XLstmState start = model.forward(ps, TestModels.randomTokens(manager, 2, 7, VOCAB), null, false).state();

                model.setInferenceSegment(Integer.MAX_VALUE);
                NDArray logits = model.logits(ps, tokens, false);
                LmOutput stateful = model.forward(ps, tokens, start, false);
                LmOutput last = model.forwardLast(ps, tokens, start);

                model.setInferenceSegment(2 * 32); // 32 positions per segment at batch 2: 5 segments
                String name = config.architecture();
                assertClose(logits, model.logits(ps, tokens, false), name + " logits");
                LmOutput segmented = model.forward(ps, tokens, start, false);
                assertClose(stateful.logits(), segmented.logits(), name + " logits from a state");
                assertClose(stateful.state().toNDList(), segmented.state().toNDList(), name + " state");
                LmOutput segmentedLast = model.forwardLast(ps, tokens, start);
                assertClose(last.logits(), segmentedLast.logits(), name + " last logits");
                assertClose(last.state().toNDList(), segmentedLast.state().toNDList(), name + " state after forwardLast");
            }
        }
    }

    /**
     * After a long inference pass, the request's manager holds its outputs and nothing else: no
     * activation of any segment, block or chunk outlives the pass (before, every activation of the
     * pass stayed until the request ended, about 0.8 MB per token for xlstm-austen-small). The peak
     * within a pass is then one segment's activations of one block plus the outputs; its resident
     * memory (20,000 tokens through xlstm-austen-small) is measured with {@code /usr/bin/time -v}.
     */
    @Test
    void longInferenceKeepsOnlyItsOutputs() {
        for (XLstmConfig config : List.of(TestModels.neurips(3, List.of(1), VOCAB), TestModels.large(VOCAB, 8))) {
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = TestModels.randomModel(config, manager, 5, 0.2f);
                model.setInferenceSegment(128);
                ParameterStore ps = new ParameterStore(manager, false);
                for (boolean withState : new boolean[] {false, true}) {
                    assertOnlyOutputsLeft(model, ps, manager, withState,
                            config.architecture() + (withState ? " from a state" : ""));
                }
            }
        }
    }

    /**
     * On a thread of its own (a DJL Serving worker, an application's pool), where libtorch's grad
     * mode is on by default, a long pass outside any gradient collector still runs as inference, in
     * segments: before, it ran in one pass and left every
     * intermediate (a 20,000-token pass of xlstm-austen-small peaked at 16.2 GB there, 1.6 GB on the
     * engine's first thread).
     */
    @Test
    void aLongPassOnAnotherThreadIsStillInference() throws Exception {
        ai.djl.engine.Engine.getInstance(); // started here: the worker is not the engine's first thread
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread worker = new Thread(() -> {
            try {
                try (NDManager manager = NDManager.newBaseManager()) {
                    assertTrue(ai.djl.pytorch.jni.JniUtils.isGradMode(), "a new thread starts in grad mode");
                    XLstmConfig config = TestModels.neurips(3, List.of(1), VOCAB);
                    XLstmLanguageModel model = TestModels.randomModel(config, manager, 5, 0.2f);
                    model.setInferenceSegment(128);
                    ParameterStore ps = new ParameterStore(manager, false);
                    assertOnlyOutputsLeft(model, ps, manager, false, "on a worker thread");
                }
                assertTrue(ai.djl.pytorch.jni.JniUtils.isGradMode(), "the thread's grad mode is restored");
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        worker.start();
        worker.join();
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
    }

    /** A 1,000-token pass leaves nothing in its request's manager but the logits and the state. */
    private static void assertOnlyOutputsLeft(
            XLstmLanguageModel model, ParameterStore ps, NDManager manager, boolean withState, String what) {
        try (NDManager request = manager.newSubManager()) {
            NDArray tokens = TestModels.randomTokens(request, 1, 1000, VOCAB);
            XLstmState state = withState ? model.zeroState(request, request.getDevice(), 1) : null;
            long before = bytes(request);
            LmOutput out = model.forward(ps, tokens, state, false);
            long outputs = out.logits().size() * 4;
            for (NDArray a : out.state().toNDList()) {
                outputs += a.size() * 4;
            }
            long left = bytes(request) - before - outputs;
            assertTrue(left <= 0, what + ": " + left + " bytes besides the outputs (" + outputs
                    + " bytes) left after 1000 tokens");
        }
    }

    private static long bytes(NDManager manager) {
        long total = 0;
        for (NDArray a : manager.getManagedArrays()) {
            if (!a.isReleased()) {
                total += a.size() * a.getDataType().getNumOfBytes();
            }
        }
        return total;
    }

    private static void assertClose(NDList expected, NDList actual, String what) {
        assertEquals(expected.size(), actual.size(), what + ": number of tensors");
        for (int i = 0; i < expected.size(); i++) {
            assertClose(expected.get(i), actual.get(i), what + " " + i);
        }
    }

    /** Within float32 round-off: {@code |a - e| <= 1e-5 + 1e-5 |e|}. */
    private static void assertClose(NDArray expected, NDArray actual, String what) {
        assertEquals(expected.getShape(), actual.getShape(), what + ": shape");
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        for (int i = 0; i < e.length; i++) {
            assertTrue(Math.abs(a[i] - e[i]) <= 1e-5f + 1e-5f * Math.abs(e[i]),
                    what + "[" + i + "]: " + a[i] + " vs one pass " + e[i]);
        }
    }
}
