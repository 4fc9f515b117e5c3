package ai.djl.xlstm.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.internal.decode.CpuDecoder;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.LmOutput;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

/**
 * The CPU decode step ({@link CpuDecoder}) against the official implementation's float64 truth
 * (the shipped references neurips-a and large-a) and against libtorch's greedy decoding of the bundled
 * xlstm-austen-small.
 */
class CpuDecoderReferenceTest {

    private static final Path AUSTEN_SMALL =
            Path.of("../xlstm-zoo/src/main/resources/ai/djl/xlstm/zoo/models/xlstm-austen-small");

    /**
     * Token by token from the zero state over the reference tokens: the logits within the
     * tolerance of {@link ReferenceParityTest} of the official float32 step logits, and max
     * |ours - truth64| at most {@code TRUTH_RATIO} x the official float32 error + slack.
     */
    @Test
    void stepsMatchTheFloat64Truth() throws Exception {
        stepsMatchTheFloat64Truth("neurips-a");
    }

    /**
     * The same for xLSTM Large ({@code large-a}: gate and logit soft caps, RMS norms, DHQK 8, DHV
     * 16), and the memory after the 40 tokens against the official final state (its inference
     * mode: chunkwise, then the recurrent step for the tail), compared as {@code C exp(m)} and
     * {@code n exp(m)}: the stabilizer m of the chunkwise form need not equal the step's.
     */
    @Test
    void largeStepsMatchTheFloat64Truth() throws Exception {
        stepsMatchTheFloat64Truth("large-a");
    }

    private void stepsMatchTheFloat64Truth(String name) throws Exception {
        Path folder = Path.of(getClass().getResource("/reference/" + name).toURI());
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(folder, manager);
            CpuDecoder decoder = CpuDecoder.of(model).orElseThrow();
            Map<String, NDArray> io = SafeTensors.load(folder.resolve("io.safetensors"), manager);
            long[] tokens = io.get("tokens").toType(DataType.INT64, false).toLongArray();
            float[] official = io.get("logits_step").toFloatArray();
            double[] truth = SafeTensors.load(folder.resolve(ReferenceParityTest.TRUTH_FILE), manager).get("logits")
                    .toDoubleArray();
            int rows = (int) io.get("tokens").getShape().get(0);
            int len = (int) io.get("tokens").getShape().get(1);
            int vocab = decoder.vocabSize();
            assertEquals(rows * len * vocab, truth.length);
            double oursVsTruth = 0;
            double officialVsTruth = 0;
            double oursVsOfficial = 0;
            double worstState = 0;
            for (int b = 0; b < rows; b++) {
                CpuDecoder.State state = decoder.newState();
                for (int t = 0; t < len; t++) {
                    float[] logits = decoder.step((int) tokens[b * len + t], state);
                    int base = (b * len + t) * vocab;
                    for (int v = 0; v < vocab; v++) {
                        double o = official[base + v];
                        double diff = Math.abs(logits[v] - o);
                        assertTrue(diff <= ReferenceParityTest.ABSOLUTE + ReferenceParityTest.RELATIVE * Math.abs(o),
                                "row " + b + " step " + t + " logit " + v + ": ours " + logits[v] + ", official " + o);
                        oursVsOfficial = Math.max(oursVsOfficial, diff);
                        oursVsTruth = Math.max(oursVsTruth, Math.abs(logits[v] - truth[base + v]));
                        officialVsTruth = Math.max(officialVsTruth, Math.abs(o - truth[base + v]));
                    }
                }
                if (io.containsKey("state_0_c")) {
                    worstState = Math.max(worstState, stateDiff(decoder, state, io, b, manager));
                }
            }
            if (io.containsKey("state_0_c")) {
                System.out.printf("[cpu-decode] %s: final memory vs official, max relative |C e^m|, |n e^m| diff %.3e%n",
                        name, worstState);
                assertTrue(worstState < 1e-4, "final memory differs by " + worstState + " (relative)");
            }
            double limit = ReferenceParityTest.TRUTH_RATIO * officialVsTruth + ReferenceParityTest.TRUTH_SLACK;
            System.out.printf("[cpu-decode] %s (%s): max|ours - official step| %.3e, ours-vs-truth64 %.3e,"
                    + " official-vs-truth64 %.3e (limit %.3e)%n", name, decoder.kernels(), oursVsOfficial, oursVsTruth,
                    officialVsTruth, limit);
            assertTrue(oursVsTruth <= limit, "max|ours - truth64| " + oursVsTruth + " > " + limit);
        }
    }

    /** Prompt prefilled on libtorch, then 100 greedy tokens on each path: the same tokens. */
    @Test
    void austenSmallGreedyTokensMatchLibtorch() throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(AUSTEN_SMALL, manager);
            ParameterStore ps = new ParameterStore(manager, false);
            CpuDecoder decoder = CpuDecoder.of(model).orElseThrow();
            long[] prompt = {464, 262, 1000, 286, 257, 1115, 290, 339, 373}; // "The the ... " ids, any will do
            LmOutput prefill = model.forward(ps, manager.create(new long[][] {prompt}), null, false);
            float[] all = prefill.logits().toFloatArray();
            int vocab = decoder.vocabSize();
            float[] last = java.util.Arrays.copyOfRange(all, all.length - vocab, all.length);
            CpuDecoder.State state = decoder.state(prefill.state());
            XLstmState torchState = prefill.state();
            int count = 100;
            long[] torchTokens = new long[count];
            long[] cpuTokens = new long[count];
            int torchNext = argmax(last);
            int cpuNext = torchNext;
            double worst = 0;
            for (int t = 0; t < count; t++) {
                torchTokens[t] = torchNext;
                cpuTokens[t] = cpuNext;
                try (NDManager step = manager.newSubManager()) {
                    LmOutput out = model.forward(ps, step.create(new long[][] {{torchNext}}), torchState, false);
                    float[] torchLogits = out.logits().toFloatArray();
                    out.state().attach(manager);
                    torchState = out.state();
                    float[] cpuLogits = decoder.step(cpuNext, state);
                    if (torchNext == cpuNext) {
                        for (int v = 0; v < vocab; v++) {
                            worst = Math.max(worst, Math.abs(torchLogits[v] - cpuLogits[v]));
                        }
                    }
                    torchNext = argmax(torchLogits);
                    cpuNext = argmax(cpuLogits);
                }
            }
            System.out.printf("[cpu-decode] xlstm-austen-small (%s): %d greedy tokens, max |logit diff| %.3e%n",
                    decoder.kernels(), count, worst);
            assertArrayEquals(torchTokens, cpuTokens, "greedy tokens, libtorch vs CPU decoder");
            assertTrue(worst < 1e-3, "max |logit diff| " + worst);
        }
    }

    /**
     * max over blocks of max|C e^m - C' e^m'| / max|C' e^m'| and the same for n, row {@code b} of
     * the official state.
     */
    private static double stateDiff(CpuDecoder decoder, CpuDecoder.State state, Map<String, NDArray> io, int b,
            NDManager manager) {
        NDList ours = decoder.toXLstmState(state, manager).toNDList(); // per block C, n, m
        double worst = 0;
        for (int block = 0; block * 3 < ours.size(); block++) {
            NDArray m = ours.get(3 * block + 2); // [1, NH, 1]
            NDArray mRef = io.get("state_" + block + "_m").get(b).expandDims(0);
            for (int part = 0; part < 2; part++) {
                NDArray x = ours.get(3 * block + part);
                NDArray ref = io.get("state_" + block + (part == 0 ? "_c" : "_n")).get(b).expandDims(0);
                NDArray scale = part == 0 ? m.exp().expandDims(-1) : m.exp(); // [1, NH, 1(, 1)]
                NDArray scaleRef = part == 0 ? mRef.exp().expandDims(-1) : mRef.exp();
                NDArray a = x.mul(scale);
                NDArray r = ref.mul(scaleRef);
                double diff = a.sub(r).abs().max().getFloat();
                double norm = r.abs().max().getFloat();
                worst = Math.max(worst, diff / norm);
            }
        }
        return worst;
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }
}
