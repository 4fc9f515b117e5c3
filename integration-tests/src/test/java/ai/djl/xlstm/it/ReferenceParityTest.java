package ai.djl.xlstm.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.components.MLstmForm;
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
 *
 * <p>Two measures. Against the official float32 outputs, elementwise: {@code |ours - official| <=
 * 1e-4 + 1e-5 * |official|}. Against the float64 truth ({@code truth64.safetensors}, the official
 * model run in float64, where the folder has it): our float32 logits may be off from it by at most
 * 1.5 x the official float32 logits' error + 1e-6, per form (every full-sequence form against the
 * official full-sequence logits' error, the token-by-token step against the official {@code
 * logits_step}'s error). The absolute bound alone says little once logits grow: at logits near 10
 * the official float32 itself is off from the truth by 6e-5.
 */
class ReferenceParityTest {

    /** Elementwise bound against the official float32 outputs: ABSOLUTE + RELATIVE * |official|. */
    static final double ABSOLUTE = 1e-4;

    static final double RELATIVE = 1e-5;

    /**
     * Against the float64 truth ({@code truth64.safetensors}): our float32 error may be at most
     * TRUTH_RATIO x the official float32 error + TRUTH_SLACK.
     */
    static final double TRUTH_RATIO = 1.5;

    static final double TRUTH_SLACK = 1e-6;

    static final String TRUTH_FILE = "truth64.safetensors";

    static final String GRADS_FILE = "grads.safetensors";

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

    /** Whether {@code folder} is one of the references shipped in the test resources. */
    static boolean isShipped(Path folder) throws URISyntaxException {
        Path shipped = Path.of(ReferenceParityTest.class.getResource("/reference").toURI());
        return shipped.equals(folder.toAbsolutePath().getParent());
    }

    @Test
    void shippedReferencesArePresent() throws Exception {
        List<String> names = referenceFolders().map(p -> p.getFileName().toString()).toList();
        assertTrue(names.contains("neurips-a") && names.contains("large-a"), "shipped references: " + names);
        // The shipped folders carry the float64 truth and the gradients, so their checks never skip.
        Path shipped = Path.of(ReferenceParityTest.class.getResource("/reference").toURI());
        for (String name : List.of("neurips-a", "large-a")) {
            for (String file : List.of(TRUTH_FILE, GRADS_FILE)) {
                assertTrue(Files.isRegularFile(shipped.resolve(name).resolve(file)), "shipped reference " + name + " lacks " + file);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceFolders")
    void matchesOfficialImplementation(Path folder) throws IOException {
        String name = folder.getFileName().toString();
        Checks checks;
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(folder, manager);
            Map<String, NDArray> io = SafeTensors.load(folder.resolve("io.safetensors"), manager);
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray tokens = io.get("tokens");
            NDArray expected = io.get("logits");
            NDArray expectedStep = io.get("logits_step");
            assertNotNull(expected, folder + ": io.safetensors has no 'logits'");
            assertNotNull(expectedStep, folder + ": io.safetensors has no 'logits_step'");
            long len = tokens.getShape().get(1);
            boolean large = model.getConfig() instanceof XLstmLargeConfig;
            checks = new Checks(name, loadTruth(folder, expected, manager));
            // The official float32 error against the float64 truth: the yardstick for ours.
            double officialFull = checks.officialVsTruth("logits", expected);
            double officialStep = checks.officialVsTruth("logits_step", expectedStep);

            if (large) {
                checks.logits("chunkwise+recurrent tail", expected, model.logits(ps, tokens, false), officialFull);
                XLstmState state = model.forward(ps, tokens, null, false).state();
                for (int i = 0; io.containsKey("state_" + i + "_c"); i++) {
                    MLstmCellState s = (MLstmCellState) state.block(i);
                    checks.vsOfficial("state_" + i + "_c", io.get("state_" + i + "_c"), s.c());
                    checks.vsOfficial("state_" + i + "_n", io.get("state_" + i + "_n"), s.n());
                    checks.vsOfficial("state_" + i + "_m", io.get("state_" + i + "_m"), s.m());
                }
            } else {
                checks.logits("parallel", expected, model.logits(ps, tokens, false), officialFull);
            }
            for (int chunk : new int[] {5, 16, 64}) {
                model.setForm(MLstmForm.chunkwise(chunk));
                checks.logits("chunkwise(" + chunk + ")", expected, model.forward(ps, tokens, null, false).logits(), officialFull);
            }
            model.setForm(MLstmForm.recurrent(64));
            checks.logits("recurrent form", expected, model.logits(ps, tokens, false), officialFull);

            // Token by token with carried state; the truth is the same exact answer for the same tokens.
            NDList steps = new NDList();
            XLstmState state = null;
            for (long t = 0; t < len; t++) {
                LmOutput out = model.forward(ps, tokens.get(new NDIndex().addAllDim().addSliceDim(t, t + 1)), state, false);
                steps.add(out.logits());
                state = out.state();
            }
            checks.logits("step (logits_step)", expectedStep, NDArrays.concat(steps, 1), officialStep);

            if (io.containsKey("embeddings")) {
                List<NDArray> hidden = model.hiddenStates(ps, tokens, false);
                checks.vsOfficial("embeddings", io.get("embeddings"), hidden.get(0));
                for (int i = 0; io.containsKey("block_" + i + "_output"); i++) {
                    checks.vsOfficial("block_" + i + "_output", io.get("block_" + i + "_output"), hidden.get(i + 1));
                }
            }
            if (io.containsKey("greedy_tokens")) {
                assertArrayEquals(
                        io.get("greedy_tokens").toLongArray(),
                        greedy(model, manager, io.get("greedy_prefix"), (int) io.get("greedy_tokens").getShape().get(1)),
                        "greedy tokens of " + folder);
            }
        }
        REPORT.put(name, checks.maxDiffs);
        System.out.println("[parity] " + folder + ":");
        checks.lines.forEach(System.out::println);
        assertTrue(checks.failures.isEmpty(),
                folder + ": " + checks.failures.size() + " parity failures:\n  " + String.join("\n  ", checks.failures));
    }

    /**
     * The float64 truth logits of {@code folder} ({@code truth64.safetensors}), or null with a
     * printed note where the folder has none.
     */
    private static double[] loadTruth(Path folder, NDArray expected, NDManager manager) throws IOException {
        Path file = folder.resolve(TRUTH_FILE);
        if (!Files.isRegularFile(file)) {
            System.out.println("[truth]  NOTE " + folder + ": no " + TRUTH_FILE + ", float64-truth checks skipped");
            return null;
        }
        NDArray truth = SafeTensors.load(file, manager).get("logits");
        assertNotNull(truth, file + ": no tensor 'logits'");
        assertEquals(DataType.FLOAT64, truth.getDataType(), file + ": 'logits' should be F64");
        assertEquals(expected.getShape(), truth.getShape(), file + ": 'logits' shape vs io.safetensors 'logits'");
        return truth.toDoubleArray();
    }

    /** The comparisons of one folder: printed lines, failure messages and the max |diff| per check. */
    private static final class Checks {
        final String folder;
        final double[] truth;
        final List<String> lines = new ArrayList<>();
        final List<String> failures = new ArrayList<>();
        final Map<String, Double> maxDiffs = new TreeMap<>();

        Checks(String folder, double[] truth) {
            this.folder = folder;
            this.truth = truth;
        }

        /**
         * Elementwise {@code |ours - official| <= ABSOLUTE + RELATIVE * |official|}; records the
         * worst element (largest |diff| / bound).
         */
        void vsOfficial(String what, NDArray official, NDArray ours) {
            assertEquals(official.getShape(), ours.getShape(), folder + " " + what + ": shape");
            Shape shape = official.getShape();
            float[] e = official.toType(DataType.FLOAT32, false).toFloatArray();
            float[] a = ours.toType(DataType.FLOAT32, false).toFloatArray();
            double maxDiff = 0;
            double worstRatio = -1;
            int worst = 0;
            for (int i = 0; i < e.length; i++) {
                double diff = Math.abs((double) a[i] - e[i]);
                double ratio = diff / bound(e[i]);
                if (Double.isNaN(ratio)) { // NaN in ours (or in the reference): always the worst
                    worst = i;
                    worstRatio = Double.NaN;
                    maxDiff = Double.NaN;
                    break;
                }
                maxDiff = Math.max(maxDiff, diff);
                if (ratio > worstRatio) {
                    worstRatio = ratio;
                    worst = i;
                }
            }
            maxDiffs.put(what, maxDiff);
            lines.add(String.format("[parity]   %-34s %-14s max|ours - official| = %.3e   worst |diff|/bound = %.3f",
                    what, shape, maxDiff, worstRatio));
            if (!(worstRatio <= 1)) {
                failures.add(String.format(
                        "%s %s %s: |ours - official| > %.0e + %.0e * |official| at index %s: ours %.7g, official %.7g, |diff| %.3e, bound %.3e (max|diff| over the tensor %.3e)",
                        folder, what, shape, ABSOLUTE, RELATIVE, index(shape, worst), a[worst], e[worst],
                        Math.abs((double) a[worst] - e[worst]), bound(e[worst]), maxDiff));
            }
        }

        /**
         * Logits of one form: elementwise against the official logits, and, where the folder has
         * the float64 truth, max |ours - truth| against {@code TRUTH_RATIO} x the official float32
         * error {@code officialVsTruth} + {@code TRUTH_SLACK}.
         */
        void logits(String form, NDArray official, NDArray ours, double officialVsTruth) {
            vsOfficial("logits " + form, official, ours);
            if (truth == null) {
                return;
            }
            double oursVsTruth = maxAbsDiff(ours, truth);
            double limit = TRUTH_RATIO * officialVsTruth + TRUTH_SLACK;
            double ratio = oursVsTruth / officialVsTruth;
            lines.add(String.format(
                    "[truth]  %-10s %-26s ours-vs-truth %.3e   official-vs-truth %.3e   ratio %.3f   (limit %.3e)",
                    folder, form, oursVsTruth, officialVsTruth, ratio, limit));
            if (!(oursVsTruth <= limit)) {
                failures.add(String.format(
                        "%s logits %s %s: max|ours - truth64| %.3e > %.1f x max|official - truth64| (%.3e) + %.0e = %.3e (ratio %.3f)",
                        folder, form, ours.getShape(), oursVsTruth, TRUTH_RATIO, officialVsTruth, TRUTH_SLACK, limit, ratio));
            }
        }

        /** max |official - truth|, or NaN without a truth. */
        double officialVsTruth(String what, NDArray official) {
            if (truth == null) {
                return Double.NaN;
            }
            double err = maxAbsDiff(official, truth);
            assertTrue(err > 0, folder + " " + what + ": official float32 logits equal the float64 truth exactly; is "
                    + TRUTH_FILE + " really the float64 run?");
            return err;
        }
    }

    private static double bound(double official) {
        return ABSOLUTE + RELATIVE * Math.abs(official);
    }

    /** max |x - truth| in double precision; NaN if x holds a NaN. */
    static double maxAbsDiff(NDArray x, double[] truth) {
        float[] v = x.toType(DataType.FLOAT32, false).toFloatArray();
        assertEquals(truth.length, v.length, "element count vs truth");
        double max = 0;
        for (int i = 0; i < v.length; i++) {
            double d = Math.abs(v[i] - truth[i]);
            if (Double.isNaN(d)) {
                return Double.NaN;
            }
            max = Math.max(max, d);
        }
        return max;
    }

    /** The multi-dimensional index of flat element {@code flat}, as {@code [b, s, v]}. */
    static String index(Shape shape, long flat) {
        long[] idx = new long[shape.dimension()];
        for (int d = idx.length - 1; d >= 0; d--) {
            idx[d] = flat % shape.get(d);
            flat /= shape.get(d);
        }
        return java.util.Arrays.toString(idx);
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

    @AfterAll
    static void report() {
        System.out.println("[parity] reference folders run: " + REPORT.keySet());
    }
}
