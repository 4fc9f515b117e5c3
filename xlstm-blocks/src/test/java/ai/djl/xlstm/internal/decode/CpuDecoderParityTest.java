package ai.djl.xlstm.internal.decode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.model.LmOutput;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The CPU decode step against the libtorch path: a prompt prefilled on libtorch, its state
 * copied, then 64 steps on both with the same tokens; the logits of every step and the final
 * state must agree, on the Vector API kernels and on the plain-Java fallback.
 */
class CpuDecoderParityTest {

    private static final int STEPS = 64;
    private static final float LOGIT_TOLERANCE = 1e-4f;
    /**
     * With the float16-rounded weights, one of these random models passes a near-tie at one step
     * (2.4e-4 there, 5e-6 at the steps before and after, logits of magnitude ~5): summation order
     * alone moves such a step. A widening or packing error shows at every step, far above this.
     */
    private static final float HALF_LOGIT_TOLERANCE = 5e-4f;

    /** Both block kinds, conv on, untied head, dimensions that fill whole vectors (D = 16). */
    @Test
    void untiedHeadMatchesLibtorch() {
        check(TestModels.neurips(4, List.of(1, 3), 64), Kernels.preferred(), 0.3f);
    }

    /** Tied head, biases, dimensions with vector tails (D = 40, sLSTM head dim 20). */
    @Test
    void tiedHeadWithBiasesMatchesLibtorch() {
        check(config(40, true, true, 4, "gelu"), Kernels.preferred(), 0.3f);
    }

    /** No conv in either layer, another activation, the untied head. */
    @Test
    void noConvMatchesLibtorch() {
        check(config(32, false, false, 0, "silu"), Kernels.preferred(), 0.3f);
    }

    /** The plain-Java fallback, what runs without {@code --add-modules jdk.incubator.vector}. */
    @Test
    void scalarFallbackMatchesLibtorch() {
        check(config(40, true, true, 4, "gelu"), Kernels.scalar(), 0.3f);
        check(TestModels.neurips(4, List.of(1, 3), 64), Kernels.scalar(), 0.3f);
    }

    @Test
    void testsRunOnTheVectorApi() {
        // the surefire argLine adds the module: the parity tests above exercise VectorKernels
        assertTrue(Kernels.vectorModulePresent(), "tests must run with --add-modules jdk.incubator.vector");
        assertTrue(Kernels.preferred() instanceof VectorKernels, "preferred kernels: " + Kernels.preferred().name());
    }

    /** xLSTM Large (tiny: D = 32, NH = 2, DHQK = 8, DHV = 16), no biases, gate and logit soft caps. */
    @Test
    void largeMatchesLibtorch() {
        check(TestModels.large(20, 8), Kernels.preferred(), 0.3f);
    }

    /** xLSTM Large with biases, no out_norm, no soft caps, another qk/v split with vector tails (DHQK 3, DHV 9). */
    @Test
    void largeWithBiasesMatchesLibtorch() {
        check(largeConfig(48, 4, true, false, 0.25, 0.75, 0f, 0f), Kernels.preferred(), 0.3f);
        check(largeConfig(48, 3, true, true, 0.5, 1.0, 15f, 30f), Kernels.preferred(), 0.3f);
    }

    @Test
    void largeScalarFallbackMatchesLibtorch() {
        check(largeConfig(40, 4, true, true, 0.5, 1.0, 15f, 30f), Kernels.scalar(), 0.3f);
    }

    @Test
    void largeZeroStateMatchesAPromptFromNothing() {
        zeroStateMatches(TestModels.large(20, 8));
    }

    /**
     * float16 weights: the decoder keeps the large matrices as float16 bits (half the bytes) and
     * computes what libtorch computes in float32 from the same float16 values widened, for both
     * architectures, on both kernels.
     */
    @Test
    void float16WeightsDecodeFromTheirHalves() {
        for (Kernels kernels : List.of(Kernels.preferred(), Kernels.scalar())) {
            check(TestModels.neurips(4, List.of(1, 3), 64), kernels, 0.3f, true);
            check(config(40, true, true, 4, "gelu"), kernels, 0.3f, true);
            check(TestModels.large(20, 8), kernels, 0.3f, true);
            check(largeConfig(48, 3, true, true, 0.5, 1.0, 15f, 30f), kernels, 0.3f, true);
        }
    }

    /**
     * A batch of three sequences (different prompts) against libtorch's batched step, and each row
     * bit for bit what the same row gives as a batch of one, for both architectures, float32 and
     * float16 weights, on both kernels.
     */
    @Test
    void batchesMatchLibtorchAndRowsMatchBatchesOfOne() {
        for (Kernels kernels : List.of(Kernels.preferred(), Kernels.scalar())) {
            for (boolean half : new boolean[] {false, true}) {
                checkBatch(config(40, true, true, 4, "gelu"), kernels, half);
                checkBatch(largeConfig(48, 3, true, true, 0.5, 1.0, 15f, 30f), kernels, half);
            }
        }
    }

    private static void checkBatch(XLstmConfig config, Kernels kernels, boolean half) {
        int batch = 3;
        try (NDManager manager = NDManager.newBaseManager()) {
            int vocab = config.vocabSize();
            XLstmLanguageModel model = TestModels.randomModel(config, manager, 12, 0.3f);
            if (half) {
                model.castWeights(ai.djl.ndarray.types.DataType.FLOAT16);
            }
            CpuDecoder decoder = CpuDecoder.of(model, kernels).orElseThrow();
            if (half) {
                model.castWeights(ai.djl.ndarray.types.DataType.FLOAT32);
            }
            ParameterStore ps = new ParameterStore(manager, false);
            LmOutput prefill = model.forward(ps, TestModels.randomTokens(manager, batch, 7, vocab), null, false);
            CpuDecoder.State[] rows = decoder.states(prefill.state());
            assertEquals(batch, rows.length);
            CpuDecoder.State[] alone = decoder.states(prefill.state());
            XLstmState torch = prefill.state();
            Random random = new Random(8);
            float worst = 0;
            for (int t = 0; t < 16; t++) {
                int[] tokens = new int[batch];
                long[][] ids = new long[batch][1];
                for (int b = 0; b < batch; b++) {
                    tokens[b] = random.nextInt(vocab);
                    ids[b][0] = tokens[b];
                }
                try (NDManager step = manager.newSubManager()) {
                    LmOutput out = model.forward(ps, step.create(ids), torch, false);
                    float[] expected = out.logits().toFloatArray(); // [B * V]
                    float[] actual = decoder.step(tokens, rows);
                    worst = Math.max(worst, maxDiff(expected, actual));
                    for (int b = 0; b < batch; b++) {
                        float[] one = decoder.step(tokens[b], alone[b]);
                        float[] row = java.util.Arrays.copyOfRange(actual, b * vocab, (b + 1) * vocab);
                        org.junit.jupiter.api.Assertions.assertArrayEquals(one, row,
                                kernels.name() + " step " + t + " row " + b + ": batch differs from batch of one");
                    }
                    out.state().attach(manager);
                    torch = out.state();
                }
            }
            assertTrue(worst < (half ? HALF_LOGIT_TOLERANCE : LOGIT_TOLERANCE),
                    kernels.name() + (half ? " float16" : "") + " batch: max |logit diff| " + worst);
            NDList expected = torch.toNDList();
            NDList back = decoder.toXLstmState(rows, manager).toNDList();
            for (int i = 0; i < expected.size(); i++) {
                assertEquals(expected.get(i).getShape(), back.get(i).getShape(), "state array " + i);
            }
            System.out.printf("[cpu-decode] batch %d %s%s %s: max |logit diff| over 16 steps %.2e%n", batch,
                    kernels.name(), half ? " float16" : "", config.architecture(), worst);
        }
    }

    @Test
    void float16MatricesAreHeldAsHalves() {
        try (NDManager manager = NDManager.newBaseManager()) {
            for (XLstmConfig config : List.of(TestModels.large(20, 8), TestModels.neurips(2, List.of(1), 20))) {
                XLstmLanguageModel model = TestModels.randomModel(config, manager, 1, 0.1f);
                CpuDecoder f32 = CpuDecoder.of(model).orElseThrow();
                assertFalse(f32.halfWeights(), "float32: " + config.architecture());
                model.castWeights(ai.djl.ndarray.types.DataType.FLOAT16);
                CpuDecoder f16 = CpuDecoder.of(model).orElseThrow();
                assertTrue(f16.halfWeights(), "float16: " + config.architecture());
                assertTrue(f16.weightBytes() < 0.7 * f32.weightBytes(), // the small norms and biases stay float32
                        config.architecture() + ": " + f16.weightBytes() + " vs " + f32.weightBytes() + " bytes");
            }
        }
    }

    static XLstmConfig largeConfig(int dim, int heads, boolean bias, boolean outNorm, double qk, double v,
            float gateCap, float logitCap) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", "xlstm-large");
        m.put("vocab_size", 50);
        m.put("embedding_dim", dim);
        m.put("num_heads", heads);
        m.put("num_blocks", 2);
        m.put("chunk_size", 4);
        m.put("use_bias", bias);
        m.put("add_out_norm", outNorm);
        m.put("qk_dim_factor", qk);
        m.put("v_dim_factor", v);
        m.put("gate_soft_cap", gateCap);
        m.put("output_logit_soft_cap", logitCap);
        return XLstmConfig.fromMap(m);
    }

    @Test
    void badInputIsNamed() {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmConfig config = TestModels.neurips(2, List.of(1), 20);
            XLstmLanguageModel model = TestModels.randomModel(config, manager, 2, 0.1f);
            CpuDecoder decoder = CpuDecoder.of(model).orElseThrow();
            CpuDecoder other = CpuDecoder.of(model).orElseThrow();
            CpuDecoder.State state = decoder.newState();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> decoder.step(20, state));
            assertTrue(e.getMessage().contains("token id 20"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> decoder.step(-1, state));
            e = assertThrows(IllegalArgumentException.class, () -> other.step(1, state));
            assertTrue(e.getMessage().contains("another CPU decoder"), e.getMessage());
            CpuDecoder.State second = decoder.newState();
            e = assertThrows(IllegalArgumentException.class,
                    () -> decoder.step(new int[] {1, 2, 3}, new CpuDecoder.State[] {state, second, state}));
            assertTrue(e.getMessage().contains("row 2 also appears in row 0"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> decoder.step(new int[] {1, 2}, new CpuDecoder.State[] {state}));
            assertTrue(e.getMessage().contains("2 tokens for 1 states"), e.getMessage());
            XLstmState batch2 = model.zeroState(manager, manager.getDevice(), 2);
            e = assertThrows(IllegalArgumentException.class, () -> decoder.state(batch2));
            assertTrue(e.getMessage().contains("batch 1"), e.getMessage());
            XLstmLanguageModel uninitialized = XLstmLanguageModel.create(config);
            e = assertThrows(IllegalArgumentException.class, () -> CpuDecoder.of(uninitialized));
            assertTrue(e.getMessage().contains("not initialized"), e.getMessage());
        }
    }

    @Test
    void zeroStateMatchesAPromptFromNothing() {
        zeroStateMatches(config(40, true, false, 4, "gelu"));
    }

    private static void zeroStateMatches(XLstmConfig config) {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(config, manager, 3, 0.3f);
            ParameterStore ps = new ParameterStore(manager, false);
            CpuDecoder decoder = CpuDecoder.of(model).orElseThrow();
            CpuDecoder.State state = decoder.newState();
            XLstmState torch = null;
            for (int token : new int[] {3, 1, 4, 1, 5, 9, 2, 6, 5, 3}) {
                LmOutput out = model.forward(ps, manager.create(new long[][] {{token}}), torch, false);
                torch = out.state();
                float diff = maxDiff(out.logits().toFloatArray(), decoder.step(token, state));
                assertTrue(diff < LOGIT_TOLERANCE, "logits from the zero state differ by " + diff);
            }
        }
    }

    private static void check(XLstmConfig config, Kernels kernels, float std) {
        check(config, kernels, std, false);
    }

    /**
     * With {@code half}, the decoder is built from the model's float16 weights and libtorch runs
     * the same values widened back to float32 (exactly).
     */
    private static void check(XLstmConfig config, Kernels kernels, float std, boolean half) {
        try (NDManager manager = NDManager.newBaseManager()) {
            int vocab = config.vocabSize();
            XLstmLanguageModel model = TestModels.randomModel(config, manager, 11, std);
            CpuDecoder decoder;
            if (half) {
                model.castWeights(ai.djl.ndarray.types.DataType.FLOAT16);
                decoder = CpuDecoder.of(model, kernels).orElseThrow();
                assertTrue(decoder.halfWeights(), "float16 matrices");
                model.castWeights(ai.djl.ndarray.types.DataType.FLOAT32);
            } else {
                decoder = CpuDecoder.of(model, kernels).orElseThrow();
            }
            ParameterStore ps = new ParameterStore(manager, false);
            LmOutput prefill = model.forward(ps, TestModels.randomTokens(manager, 1, 9, vocab), null, false);
            CpuDecoder.State state = decoder.state(prefill.state());
            XLstmState torch = prefill.state();
            Random random = new Random(7);
            float worst = 0;
            for (int t = 0; t < STEPS; t++) {
                int token = random.nextInt(vocab);
                try (NDManager step = manager.newSubManager()) {
                    LmOutput out = model.forward(ps, step.create(new long[][] {{token}}), torch, false);
                    float[] expected = out.logits().toFloatArray();
                    float[] actual = decoder.step(token, state);
                    assertEquals(vocab, actual.length);
                    float diff = maxDiff(expected, actual);
                    worst = Math.max(worst, diff);
                    assertTrue(diff < (half ? HALF_LOGIT_TOLERANCE : LOGIT_TOLERANCE),
                            kernels.name() + " step " + t + ": max |logit diff| " + diff);
                    out.state().attach(manager);
                    torch = out.state();
                }
            }
            // the state handed back equals libtorch's, and libtorch continues from it
            NDList expected = torch.toNDList();
            NDList actual = decoder.toXLstmState(state, manager).toNDList();
            float worstState = 0;
            for (int i = 0; i < expected.size(); i++) {
                assertEquals(expected.get(i).getShape(), actual.get(i).getShape(), "state array " + i);
                float[] e = expected.get(i).toFloatArray();
                float[] a = actual.get(i).toFloatArray();
                for (int j = 0; j < e.length; j++) {
                    float d = Float.isInfinite(e[j]) && e[j] == a[j] ? 0 : Math.abs(e[j] - a[j]) / Math.max(1f, Math.abs(e[j]));
                    worstState = Math.max(worstState, d);
                }
            }
            assertTrue(worstState < 1e-4f, kernels.name() + ": state differs by " + worstState + " (relative)");
            int token = 5 % vocab;
            float[] next = decoder.step(token, state.copy());
            NDArray fromHandedBack = model.forward(ps, manager.create(new long[][] {{token}}),
                    decoder.toXLstmState(state, manager), false).logits();
            float handBack = maxDiff(fromHandedBack.toFloatArray(), next);
            assertTrue(handBack < LOGIT_TOLERANCE, "libtorch from the handed-back state differs by " + handBack);
            assertFalse(Float.isNaN(worst));
            System.out.printf("[cpu-decode] %s%s %s: max |logit diff| over %d steps %.2e, state %.2e%n",
                    kernels.name(), half ? " float16" : "", describe(config), STEPS, worst, worstState);
        }
    }

    static XLstmConfig config(int dim, boolean tied, boolean bias, int conv, String act) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", "xlstm-neurips");
        m.put("vocab_size", 70);
        m.put("embedding_dim", dim);
        m.put("num_blocks", 3);
        m.put("slstm_at", List.of(1));
        m.put("mlstm", Map.of("num_heads", 2, "conv1d_kernel_size", conv, "qkv_proj_blocksize", 4, "proj_factor", 2.0));
        m.put("slstm", Map.of("num_heads", 2, "conv1d_kernel_size", conv));
        m.put("feedforward", Map.of("proj_factor", 1.3, "act_fn", act));
        m.put("tie_weights", tied);
        m.put("bias", bias);
        return XLstmConfig.fromMap(m);
    }

    private static String describe(XLstmConfig c) {
        return c.toUpstreamMap().toString().replaceAll("\\s+", "");
    }

    static float maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        float worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }

    /** A model whose weights do not fit in the free Java heap decodes on libtorch, not into an OutOfMemoryError. */
    @Test
    void aModelTooLargeForTheHeapHasNoCpuDecoder() {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(TestModels.neurips(2, java.util.List.of(1), 64), manager, 1, 0.1f);
            assertTrue(CpuDecoder.of(model, Kernels.preferred(), 1L << 30).isPresent());
            assertTrue(CpuDecoder.of(model, Kernels.preferred(), 1L << 20).isEmpty(),
                    "1 MiB of heap cannot hold the weights' copy");
        }
    }
}
