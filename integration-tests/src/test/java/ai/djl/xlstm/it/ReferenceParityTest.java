package ai.djl.xlstm.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.components.MLstmBackend;
import ai.djl.xlstm.model.LmOutput;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.MLstmCellState;
import ai.djl.xlstm.state.XLstmState;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Parity with the official NX-AI implementation: every reference folder (the ones shipped in the
 * test resources, plus the absolute paths in the system property {@code xlstm.reference.extra},
 * comma-separated) is loaded through the public importer and compared with upstream's outputs.
 */
class ReferenceParityTest {

    private static final double TOLERANCE = 1e-4;
    private static final Map<String, Map<String, Double>> REPORT =
            Collections.synchronizedMap(new TreeMap<>());

    static Stream<Path> referenceFolders() throws IOException, URISyntaxException {
        List<Path> folders = new ArrayList<>();
        Path shipped = Path.of(ReferenceParityTest.class.getResource("/reference").toURI());
        try (Stream<Path> list = Files.list(shipped)) {
            list.filter(p -> Files.isRegularFile(p.resolve("io.safetensors"))).sorted().forEach(folders::add);
        }
        String extra = System.getProperty("xlstm.reference.extra", "");
        for (String p : extra.split(",")) {
            if (!p.isBlank()) {
                Path folder = Path.of(p.trim());
                if (!Files.isRegularFile(folder.resolve("io.safetensors"))) {
                    throw new IllegalArgumentException("xlstm.reference.extra: no io.safetensors in " + folder);
                }
                folders.add(folder);
            }
        }
        return folders.stream();
    }

    @Test
    void shippedReferencesArePresent() throws Exception {
        List<String> names = referenceFolders().map(p -> p.getFileName().toString()).toList();
        assertTrue(names.contains("neurips-a") && names.contains("large-a"), "shipped references: " + names);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceFolders")
    void matchesOfficialImplementation(Path folder) throws IOException {
        Map<String, Double> diffs = new TreeMap<>();
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(folder, manager);
            Map<String, NDArray> io = SafeTensors.load(folder.resolve("io.safetensors"), manager);
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray tokens = io.get("tokens");
            NDArray expected = io.get("logits");
            long len = tokens.getShape().get(1);
            boolean large = model.getConfig() instanceof XLstmLargeConfig;

            if (large) {
                diffs.put("logits chunkwise+recurrent tail", check(expected, model.logits(ps, tokens, false)));
                XLstmState state = model.forward(ps, tokens, null, false).state();
                for (int i = 0; io.containsKey("state_" + i + "_c"); i++) {
                    MLstmCellState s = (MLstmCellState) state.block(i);
                    diffs.put("state_" + i + "_c", check(io.get("state_" + i + "_c"), s.c()));
                    diffs.put("state_" + i + "_n", check(io.get("state_" + i + "_n"), s.n()));
                    diffs.put("state_" + i + "_m", check(io.get("state_" + i + "_m"), s.m()));
                }
            } else {
                diffs.put("logits parallel", check(expected, model.logits(ps, tokens, false)));
            }
            for (int chunk : new int[] {5, 16, 64}) {
                model.setBackend(MLstmBackend.chunkwise(chunk));
                diffs.put("logits chunkwise(" + chunk + ")", check(expected, model.forward(ps, tokens, null, false).logits()));
            }
            model.setBackend(new MLstmBackend(MLstmBackend.Form.RECURRENT, 64, false));
            diffs.put("logits recurrent form", check(expected, model.logits(ps, tokens, false)));

            // Token by token with carried state.
            NDList steps = new NDList();
            XLstmState state = null;
            for (long t = 0; t < len; t++) {
                LmOutput out = model.forward(ps, tokens.get(new NDIndex().addAllDim().addSliceDim(t, t + 1)), state, false);
                steps.add(out.logits());
                state = out.state();
            }
            diffs.put("logits_step", check(io.get("logits_step"), NDArrays.concat(steps, 1)));

            if (io.containsKey("embeddings")) {
                List<NDArray> hidden = model.hiddenStates(ps, tokens, false);
                diffs.put("embeddings", check(io.get("embeddings"), hidden.get(0)));
                for (int i = 0; io.containsKey("block_" + i + "_output"); i++) {
                    diffs.put("block_" + i + "_output", check(io.get("block_" + i + "_output"), hidden.get(i + 1)));
                }
            }
            if (io.containsKey("greedy_tokens")) {
                assertArrayEquals(
                        io.get("greedy_tokens").toLongArray(),
                        greedy(model, manager, io.get("greedy_prefix"), (int) io.get("greedy_tokens").getShape().get(1)),
                        "greedy tokens of " + folder);
            }
        }
        REPORT.put(folder.getFileName().toString(), diffs);
        System.out.println("[parity] " + folder + ":");
        diffs.forEach((k, v) -> System.out.printf("[parity]   %-34s max|diff| = %.3e%n", k, v));
        diffs.forEach((k, v) -> assertTrue(v <= TOLERANCE, folder + " " + k + ": max|diff| " + v + " > " + TOLERANCE));
    }

    /**
     * Greedy decoding through the public generator: every row of the prefix prefilled alone, then
     * decoded as one batch on the carried states.
     */
    private static long[] greedy(XLstmLanguageModel model, NDManager manager, NDArray prefix, int count) {
        long[][] rows = new long[(int) prefix.getShape().get(0)][];
        long[] flat = prefix.toType(DataType.INT64, false).toLongArray();
        int len = (int) prefix.getShape().get(1);
        for (int b = 0; b < rows.length; b++) {
            rows[b] = java.util.Arrays.copyOfRange(flat, b * len, (b + 1) * len);
        }
        List<GenerationResult> results = new Generator(model, manager, null)
                .generateBatchIds(List.of(rows), GenerationConfig.builder().maxNewTokens(count).build(), null);
        return results.stream().flatMapToLong(r -> java.util.stream.LongStream.of(r.tokens())).toArray();
    }

    private static double check(NDArray expected, NDArray actual) {
        assertEquals(expected.getShape(), actual.getShape(), "shape");
        NDArray diff = expected.toType(DataType.FLOAT32, false).sub(actual).abs();
        assertFalse(actual.isNaN().any().getBoolean(), "NaN in output");
        return diff.max().getFloat();
    }

    @AfterAll
    static void report() {
        System.out.println("[parity] reference folders run: " + REPORT.keySet());
    }
}
