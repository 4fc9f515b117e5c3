package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.util.PairList;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.examples.formal.FormalLanguageDataset;
import ai.djl.xlstm.examples.formal.FormalLanguageExperiment;
import ai.djl.xlstm.examples.formal.FormalLanguageExperiment.Architecture;
import ai.djl.xlstm.examples.formal.FormalTask;
import ai.djl.xlstm.examples.formal.Supervision;
import ai.djl.xlstm.io.ParameterNames;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.training.TokenWindowDataset;
import ai.djl.xlstm.training.TrainingSession;
import ai.djl.xlstm.training.TrainingSettings;
import ai.djl.xlstm.training.UpdateListener;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Training on every path (formal languages with each architecture, text with xLSTM and xLSTM
 * Large) is undisturbed by garbage collections: each run is trained twice from the same seed, once
 * quietly and once with {@code System.gc()} plus a burst of direct buffers filled with garbage in
 * every step, between the end of the model's forward pass and the backward pass (when the autograd
 * graph holds every tensor of the step: the batch, the model's constants, the loss's operands).
 * The losses of every step and the final weights must be bit-identical. A tensor of the graph
 * over Java memory ({@code manager.create} of a Java array or buffer, a {@code Number} operand)
 * would be freed and refilled by the collection and change them, or crash the JVM.
 *
 * <p>In CI each run is a few steps. The long variant trains thousands of steps: {@code mvn -o -pl
 * xlstm-examples -am test -Dtest=GarbageCollectionTrainingTest -Dsurefire.failIfNoSpecifiedTests=false
 * -Dxlstm.gcStressSteps=2000} (the surefire fork passes the property on; its heap is the fork's
 * {@code -Xmx4g}, which {@code System.gc()} every step makes irrelevant).
 */
class GarbageCollectionTrainingTest {

    /** Updates per run: a few in CI, thousands with {@code -Dxlstm.gcStressSteps=N}. */
    private static final int STEPS = Integer.getInteger("xlstm.gcStressSteps", 4);

    @Test
    void formalLanguageTrainingIsUndisturbedByGarbageCollectionsBetweenForwardAndBackward() {
        for (Architecture a : Architecture.values()) {
            FormalLanguageDataset data = FormalLanguageDataset.builder().setTask(FormalTask.PARITY)
                    .optSupervision(Supervision.DENSE).optLengthRange(1, 24).setNumExamples(64).optSeed(3)
                    .setSampling(8, true).build();
            assertUndisturbed("formal parity " + a.cliName(), () -> FormalLanguageExperiment.model(FormalTask.PARITY, a),
                    data, 8);
        }
    }

    @Test
    void textTrainingIsUndisturbedByGarbageCollectionsBetweenForwardAndBackward() {
        Random random = new Random(5);
        long[] tokens = new long[4000];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(VOCAB);
        }
        TokenWindowDataset data = TokenWindowDataset.builder().setTokens(tokens).setSequenceLength(12)
                .setSampling(4, true).build();
        Map<String, Object> neurips = new LinkedHashMap<>();
        neurips.put("architecture", "xlstm-neurips");
        neurips.put("vocab_size", VOCAB);
        neurips.put("embedding_dim", 16);
        neurips.put("num_blocks", 2);
        neurips.put("slstm_at", List.of(1));
        neurips.put("mlstm", Map.of("num_heads", 2, "conv1d_kernel_size", 4, "qkv_proj_blocksize", 4, "proj_factor", 2.0));
        neurips.put("slstm", Map.of("num_heads", 2, "conv1d_kernel_size", 4));
        neurips.put("feedforward", Map.of("proj_factor", 1.3, "act_fn", "gelu"));
        assertUndisturbed("text xlstm-neurips 1:1", () -> XLstmLanguageModel.create(XLstmConfig.fromMap(neurips)), data, 4);
        // chunk size 4 over 12 positions: the chunkwise kernel with its soft caps
        Map<String, Object> large = Map.of("architecture", "xlstm-large", "vocab_size", VOCAB, "embedding_dim", 32,
                "num_heads", 2, "num_blocks", 2, "chunk_size", 4);
        assertUndisturbed("text xlstm-large", () -> XLstmLanguageModel.create(XLstmConfig.fromMap(large)), data, 4);
    }

    private static final int VOCAB = 50;

    /** Makes a fresh model. */
    private interface ModelFactory {
        Block create();
    }

    private static void assertUndisturbed(String label, ModelFactory model, RandomAccessDataset data, int batch) {
        Run quiet = train(model.create(), data, batch, () -> {});
        Run collected = train(model.create(), data, batch, GarbageCollectionTrainingTest::collectGarbageAndReuseMemory);
        assertEquals(STEPS, quiet.losses().size(), label);
        for (double loss : quiet.losses()) {
            assertTrue(Double.isFinite(loss), label + ": loss " + quiet.losses());
        }
        assertEquals(quiet.losses(), collected.losses(), label + ": the losses of every step, quiet vs with garbage collections");
        assertEquals(quiet.weights().keySet(), collected.weights().keySet(), label);
        List<String> changed = new ArrayList<>();
        quiet.weights().forEach((name, w) -> {
            float[] other = collected.weights().get(name);
            for (int i = 0; i < w.length; i++) {
                if (Float.floatToIntBits(w[i]) != Float.floatToIntBits(other[i])) {
                    changed.add(name + "[" + i + "]: " + w[i] + " vs " + other[i]);
                    return;
                }
            }
        });
        System.out.printf("[gc] %-24s %d steps with a garbage collection between forward and backward: losses %s,"
                + " %d of %d weights changed%n", label, STEPS, quiet.losses().equals(collected.losses()) ? "identical"
                : "differ", changed.size(), quiet.weights().size());
        assertTrue(changed.isEmpty(), label + ": weights after training differ:\n  " + String.join("\n  ", changed));
    }

    /** The losses of every update and the final weights of one run. */
    private record Run(List<Double> losses, Map<String, float[]> weights) {}

    private static Run train(Block model, RandomAccessDataset data, int batch, Runnable betweenForwardAndBackward) {
        TrainingSettings settings = new TrainingSettings(STEPS, batch, 1, 3e-3f, 3e-4f, 1, 0.1f, 1f, 11, 1, 0, 0, 0);
        List<Double> losses = new ArrayList<>();
        try (TrainingSession session = TrainingSession.fresh(new Hooked(model, betweenForwardAndBackward), settings,
                null, null)) {
            session.addListener((UpdateListener) (s, u) -> losses.add(u.loss()));
            session.train(data, null, false);
            Map<String, float[]> weights = new LinkedHashMap<>();
            ParameterNames.of(model).forEach((k, p) -> weights.put(k, p.getArray().toFloatArray()));
            return new Run(losses, weights);
        } catch (java.io.IOException | ai.djl.translate.TranslateException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The model, calling a hook after its forward pass (the loss and the backward pass follow). */
    private static final class Hooked extends AbstractBlock {

        private final Block inner;
        private final Runnable hook;

        Hooked(Block inner, Runnable hook) {
            this.inner = addChildBlock("model", inner);
            this.hook = hook;
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            NDList out = inner.forward(ps, inputs, training, params);
            hook.run();
            return out;
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            inner.initialize(manager, dataType, inputShapes);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inner.getOutputShapes(inputShapes);
        }
    }

    /** Keeps the churned buffers reachable until the next round. */
    private static volatile Object sink;

    /**
     * Collects the garbage and lets the cleaner free the unreachable direct buffers (those of any
     * tensor over Java memory among them), then allocates direct buffers of many sizes filled with
     * {@code 0x7f} bytes, which reuse the freed memory.
     */
    private static void collectGarbageAndReuseMemory() {
        for (int round = 0; round < 2; round++) {
            System.gc();
            try {
                Thread.sleep(5); // the cleaner frees unreachable direct buffers on its own thread
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            List<ByteBuffer> fresh = new ArrayList<>();
            for (int j = 0; j < 1000; j++) {
                ByteBuffer buffer = ByteBuffer.allocateDirect(4 + (j % 128) * 8);
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
