package ai.djl.xlstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.io.ParameterNames;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.training.CausalLmLoss;
import ai.djl.xlstm.internal.TensorOps;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A garbage collection between the forward and the backward pass does not change any gradient.
 *
 * <p>DJL's PyTorch engine makes the operand of {@code mul(Number)}, {@code div(Number)}, ... a
 * tensor over a Java direct buffer ({@code from_blob}) and closes it at once; autograd keeps the
 * tensor for the backward pass but not the buffer. Collected and reused, the memory then feeds the
 * backward pass garbage (see {@code TensorOps.scalar}). Each model's gradients are computed twice
 * from the same weights and tokens, once undisturbed and once with {@code System.gc()} and a burst
 * of direct buffers filled with garbage between forward and backward, and must be bit-identical.
 */
class GarbageCollectionGradientTest {

    private static final int VOCAB = 13;
    private static final int SEED = 7;

    @Test
    void neuripsGradientsDoNotDependOnGarbageCollectionBeforeBackward() {
        // block 0 mLSTM (k / sqrt(DH), 1 + w norms), block 1 sLSTM (1 + w norms)
        XLstmConfig config = TestModels.neurips(2, List.of(1), VOCAB);
        assertUndisturbedByGarbageCollection("neurips parallel", config, MLstmForm.parallel(4));
        assertUndisturbedByGarbageCollection("neurips chunkwise", config, MLstmForm.chunkwise(4));
        assertUndisturbedByGarbageCollection(
                "neurips recurrent", config, MLstmForm.recurrent(4));
    }

    @Test
    void largeGradientsDoNotDependOnGarbageCollectionBeforeBackward() {
        XLstmConfig config = TestModels.large(VOCAB, 4);
        XLstmLargeConfig large = (XLstmLargeConfig) config;
        // the soft caps cap * tanh(x / cap) on the gates and the logits must be exercised
        assertTrue(large.gateSoftCap() > 0 && large.outputLogitSoftCap() > 0,
                "soft caps off: gate " + large.gateSoftCap() + ", logits " + large.outputLogitSoftCap());
        assertUndisturbedByGarbageCollection("large chunkwise", config, MLstmForm.chunkwise(4));
        assertUndisturbedByGarbageCollection(
                "large chunkwise + recurrent tail", config, MLstmForm.inference(4));
    }

    private static void assertUndisturbedByGarbageCollection(String label, XLstmConfig config, MLstmForm backend) {
        Map<String, float[]> quiet = gradients(config, backend, () -> {});
        Map<String, float[]> collected = gradients(config, backend, GarbageCollectionGradientTest::collectGarbageAndReuseMemory);
        assertEquals(quiet.keySet(), collected.keySet(), label + ": parameter names");
        List<String> changed = new ArrayList<>();
        boolean anyNonZero = false;
        for (Map.Entry<String, float[]> e : quiet.entrySet()) {
            float[] a = e.getValue();
            float[] b = collected.get(e.getKey());
            int first = -1;
            double maxDiff = 0;
            for (int i = 0; i < a.length; i++) {
                assertTrue(Float.isFinite(a[i]), label + ": undisturbed gradient " + e.getKey() + "[" + i + "] = " + a[i]);
                anyNonZero |= a[i] != 0;
                if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) {
                    first = first < 0 ? i : first;
                    maxDiff = Math.max(maxDiff, Float.isNaN(b[i]) ? Double.NaN : Math.abs((double) a[i] - b[i]));
                }
            }
            if (first >= 0) {
                changed.add(String.format("%s: first at [%d]: %s vs %s after GC; max|diff| %.3e",
                        e.getKey(), first, a[first], b[first], maxDiff));
            }
        }
        assertTrue(anyNonZero, label + ": all gradients are zero");
        System.out.printf("[grad] %-34s gradients after a garbage collection between forward and backward:"
                + " %d of %d tensors changed%n", label, changed.size(), quiet.size());
        assertTrue(changed.isEmpty(), label + ": a garbage collection between forward and backward changed "
                + changed.size() + " of " + quiet.size() + " gradients:\n  " + String.join("\n  ", changed));
    }

    /** The gradients of the causal LM loss of a fresh random model ({@link #SEED}) on fixed tokens. */
    private static Map<String, float[]> gradients(XLstmConfig config, MLstmForm backend, Runnable betweenForwardAndBackward) {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(config, manager, SEED, 0.4f);
            model.setForm(backend);
            int batch = 2;
            int len = 10; // 10 = 2 chunks of 4 + a tail of 2
            long[] ids = new long[batch * (len + 1)];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = (i * 7L + 3) % VOCAB;
            }
            NDArray all = manager.create(ids, new Shape(batch, len + 1));
            NDArray tokens = all.get(":, :-1");
            NDArray labels = all.get(":, 1:");
            ParameterStore ps = new ParameterStore(manager, false);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray loss = new CausalLmLoss().evaluate(new NDList(labels), new NDList(model.logits(ps, tokens, true)));
                betweenForwardAndBackward.run();
                gc.backward(loss);
            }
            Map<String, float[]> out = new LinkedHashMap<>();
            ParameterNames.of(model).forEach((k, p) -> out.put(k, p.getArray().getGradient().toFloatArray()));
            return out;
        }
    }

    /** Keeps the churned buffers reachable until the next round. */
    private static volatile Object sink;

    /**
     * Collects the garbage (the direct buffers of the closed scalar operands among it) and lets the
     * cleaner free them, then allocates small direct buffers filled with {@code 0x7f} bytes, which
     * reuse the freed memory.
     */
    private static void collectGarbageAndReuseMemory() {
        for (int round = 0; round < 2; round++) {
            System.gc();
            try {
                Thread.sleep(20); // the cleaner frees unreachable direct buffers on its own thread
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            List<ByteBuffer> fresh = new ArrayList<>();
            for (int j = 0; j < 2000; j++) {
                ByteBuffer buffer = ByteBuffer.allocateDirect(4 + (j % 64) * 4);
                while (buffer.hasRemaining()) {
                    buffer.put((byte) 0x7f);
                }
                fresh.add(buffer);
            }
            sink = fresh;
        }
        sink = null;
    }
}
