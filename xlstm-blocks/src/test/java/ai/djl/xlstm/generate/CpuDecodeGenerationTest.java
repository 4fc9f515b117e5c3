package ai.djl.xlstm.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.internal.decode.CpuDecoder;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;
import java.util.stream.LongStream;

/**
 * The generator's batch-1 steps on the CPU decode step agree with its libtorch steps, and the
 * decoder follows the model's weights when they change.
 */
class CpuDecodeGenerationTest {

    private static final int VOCAB = 260;

    private static long[] prompt(int length) {
        return LongStream.range(0, length).map(i -> (i * 37 + 5) % 256).toArray();
    }

    private static GenerationResult onLibtorch(Generator g, long[] prompt, GenerationConfig config) {
        System.setProperty(CpuDecoder.LIBTORCH_ONLY, "true");
        try {
            return g.generate(prompt, config);
        } finally {
            System.clearProperty(CpuDecoder.LIBTORCH_ONLY);
        }
    }

    private static void assertSame(GenerationResult expected, GenerationResult actual, String what) {
        assertArrayEquals(expected.tokens(), actual.tokens(), what + ": tokens");
        assertArrayEquals(expected.logProbs(), actual.logProbs(), 1e-4, what + ": log-probabilities");
    }

    @Test
    void greedyAndSampledStepsEqualLibtorch() {
        greedyAndSampledStepsEqualLibtorch(TestModels.neurips(3, List.of(1), VOCAB));
    }

    /** The same for xLSTM Large (float32 on the CPU: it has a CPU decoder too). */
    @Test
    void largeGreedyAndSampledStepsEqualLibtorch() {
        greedyAndSampledStepsEqualLibtorch(TestModels.large(VOCAB, 4));
    }

    private static void greedyAndSampledStepsEqualLibtorch(XLstmConfig config) {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(config, manager, 3, 0.3f);
            assertTrue(CpuDecoder.current(model).isPresent(), "a float32 model on the CPU has a CPU decoder");
            Generator g = new Generator(model, manager, new ByteCodec(VOCAB));
            GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(40).build();
            assertSame(onLibtorch(g, prompt(9), greedy), g.generate(prompt(9), greedy), "greedy");
            GenerationConfig sampled =
                    GenerationConfig.builder().maxNewTokens(40).temperature(0.9f).topP(0.95f).seed(7L).build();
            assertSame(onLibtorch(g, prompt(9), sampled), g.generate(prompt(9), sampled), "sampled");

            // a session continues on libtorch from the state the CPU steps left
            try (GenerationSession cpu = g.newSession(); GenerationSession torch = g.newSession()) {
                g.generate(cpu, prompt(5), greedy, null);
                System.setProperty(CpuDecoder.LIBTORCH_ONLY, "true");
                try {
                    g.generate(torch, prompt(5), greedy, null);
                } finally {
                    System.clearProperty(CpuDecoder.LIBTORCH_ONLY);
                }
                NDList a = cpu.state().toNDList();
                NDList b = torch.state().toNDList();
                for (int i = 0; i < a.size(); i++) {
                    float diff = a.get(i).sub(b.get(i)).abs().max().getFloat();
                    assertTrue(diff < 1e-4f, "state array " + i + " differs by " + diff);
                }
            }
        }
    }

    /**
     * A batch of prompts of different lengths decodes on the CPU decoder as one batch, with the
     * same tokens as libtorch's batched steps, also as sequences finish early (an end token) and
     * the batch shrinks; greedy and sampled, both architectures.
     */
    @Test
    void batchesEqualLibtorchAsTheyShrink() {
        for (XLstmConfig config : List.of(TestModels.neurips(3, List.of(1), VOCAB), TestModels.large(VOCAB, 4))) {
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = TestModels.randomModel(config, manager, 4, 0.3f);
                Generator g = new Generator(model, manager, new ByteCodec(VOCAB));
                List<long[]> prompts = List.of(prompt(9), prompt(3), prompt(14), prompt(6));
                GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(30).build();
                List<GenerationResult> torch = onLibtorch(g, prompts, greedy);
                // an end token each sequence meets at a different step makes the batch shrink
                java.util.Set<Long> ends = new java.util.HashSet<>();
                for (int i = 0; i < prompts.size(); i++) {
                    ends.add(torch.get(i).tokens()[5 + 6 * i]);
                }
                for (GenerationConfig c : List.of(greedy,
                        GenerationConfig.builder().maxNewTokens(30).eosTokenIds(ends).build(),
                        GenerationConfig.builder().maxNewTokens(30).temperature(0.9f).topP(0.95f).seed(3L).build())) {
                    List<GenerationResult> expected = onLibtorch(g, prompts, c);
                    List<GenerationResult> actual = g.generateBatchIds(prompts, c, null);
                    for (int i = 0; i < prompts.size(); i++) {
                        assertSame(expected.get(i), actual.get(i), config.architecture() + " sequence " + i);
                    }
                }
            }
        }
    }

    private static List<GenerationResult> onLibtorch(Generator g, List<long[]> prompts, GenerationConfig config) {
        System.setProperty(CpuDecoder.LIBTORCH_ONLY, "true");
        try {
            return g.generateBatchIds(prompts, config, null);
        } finally {
            System.clearProperty(CpuDecoder.LIBTORCH_ONLY);
        }
    }

    /**
     * New weights (here set directly, then announced) reach the CPU decoder: before the weights
     * version existed, a decoder built once would have kept generating from the old weights.
     */
    @Test
    void theDecoderFollowsNewWeights() {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model =
                    TestModels.randomModel(TestModels.neurips(2, List.of(1), VOCAB), manager, 5, 0.3f);
            Generator g = new Generator(model, manager, new ByteCodec(VOCAB));
            GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(20).build();
            GenerationResult before = g.generate(prompt(7), greedy);
            Optional<CpuDecoder> first = CpuDecoder.current(model);
            assertTrue(first == CpuDecoder.current(model) || first.get() == CpuDecoder.current(model).get(),
                    "the decoder is built once per weights version");

            for (Parameter p : model.getParameters().values()) {
                NDArray a = p.getArray();
                a.intern(a.mul(-1.5f)); // different weights, same shapes
            }
            model.weightsChanged();
            assertFalse(first.get() == CpuDecoder.current(model).get(), "new weights, new decoder");
            GenerationResult after = g.generate(prompt(7), greedy);
            assertSame(onLibtorch(g, prompt(7), greedy), after, "after new weights");
            assertFalse(java.util.Arrays.equals(before.tokens(), after.tokens())
                            && java.util.Arrays.equals(before.logProbs(), after.logProbs()),
                    "the new weights changed the generation");
            assertEquals(20, after.tokens().length);
        }
    }
}
