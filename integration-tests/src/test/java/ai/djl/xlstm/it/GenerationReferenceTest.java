package ai.djl.xlstm.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import java.util.stream.Stream;

/** The generator on the reference models of the official implementation. */
class GenerationReferenceTest {

    static Stream<Path> referenceFolders() throws Exception {
        return ReferenceParityTest.referenceFolders();
    }

    private static long[][] promptsOf(Path folder, NDManager manager) throws IOException {
        Map<String, NDArray> io = SafeTensors.load(folder.resolve("io.safetensors"), manager);
        NDArray tokens = io.get("tokens");
        int batch = (int) tokens.getShape().get(0);
        int len = (int) tokens.getShape().get(1);
        long[] flat = tokens.toType(DataType.INT64, false).toLongArray();
        long[][] prompts = new long[batch][];
        for (int b = 0; b < batch; b++) {
            // prompts of different lengths, cut from the reference inputs
            prompts[b] = Arrays.copyOfRange(flat, b * len, b * len + Math.max(1, len / 2 - 3 * b));
        }
        return prompts;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceFolders")
    void greedyEqualsArgmaxOfFullSequenceLogits(Path folder) throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(folder, manager);
            ParameterStore ps = new ParameterStore(manager, false);
            Generator generator = new Generator(model, manager, null);
            int vocab = model.getConfig().vocabSize();
            for (long[] prompt : promptsOf(folder, manager)) {
                GenerationResult r = generator.generate(prompt, GenerationConfig.builder().maxNewTokens(16).build());
                long[] seq = prompt;
                for (int k = 0; k < 16; k++) {
                    try (NDManager scope = manager.newSubManager()) {
                        // the whole sequence again from the zero state, in the model's sequence form
                        float[] logits = model.logits(ps, scope.create(seq).reshape(1, seq.length), false).toFloatArray();
                        float[] last = Arrays.copyOfRange(logits, (seq.length - 1) * vocab, seq.length * vocab);
                        int argmax = 0;
                        for (int v = 1; v < vocab; v++) {
                            argmax = last[v] > last[argmax] ? v : argmax;
                        }
                        assertEquals(argmax, r.tokens()[k], folder.getFileName() + ": token " + k);
                        seq = LongStream.concat(LongStream.of(seq), LongStream.of(argmax)).toArray();
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceFolders")
    void batchedGenerationEqualsOneByOne(Path folder) throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(folder, manager);
            Generator generator = new Generator(model, manager, null);
            List<long[]> prompts = List.of(promptsOf(folder, manager));
            for (GenerationConfig config : List.of(
                    GenerationConfig.builder().maxNewTokens(20).build(),
                    GenerationConfig.builder().maxNewTokens(20).temperature(0.8f).topP(0.9f).seed(11)
                            .eosTokenIds(java.util.Set.of(1L, 2L, 3L)).build())) {
                List<GenerationResult> batch = generator.generateBatchIds(prompts, config, null);
                for (int i = 0; i < prompts.size(); i++) {
                    GenerationResult alone = generator.generate(prompts.get(i), config.toBuilder().seed(config.seed() + i).build());
                    assertArrayEquals(alone.tokens(), batch.get(i).tokens(), folder.getFileName() + " sequence " + i);
                    assertArrayEquals(alone.logProbs(), batch.get(i).logProbs(), 1e-4); // float32 round-off of batch 1 vs B matmuls
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceFolders")
    void aSavedSessionContinuesInAnotherProcess(Path folder, @TempDir Path dir) throws Exception {
        long[] prompt;
        try (NDManager manager = NDManager.newBaseManager()) {
            prompt = promptsOf(folder, manager)[0];
        }
        String ids = String.join(",", LongStream.of(prompt).mapToObj(Long::toString).toList());
        Path state = dir.resolve("session.safetensors");
        String once = runJvm(folder.toString(), "-", "-", "20", ids);
        String first = runJvm(folder.toString(), "-", state.toString(), "10", ids);
        String second = runJvm(folder.toString(), state.toString(), "-", "10");
        assertEquals(once, first + "," + second, "20 tokens in one process vs 10 + 10 in two");
    }

    private static String runJvm(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), SessionProcess.class.getName()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM timed out");
        assertEquals(0, p.exitValue(), output);
        return output.lines().filter(l -> l.startsWith("TOKENS ")).findFirst()
                .orElseThrow(() -> new AssertionError("no tokens in: " + output)).substring(7);
    }
}
