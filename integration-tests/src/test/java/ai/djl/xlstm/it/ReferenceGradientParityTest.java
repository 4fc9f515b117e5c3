package ai.djl.xlstm.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.io.ParameterNames;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.training.CausalLmLoss;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Gradient parity with the official implementation. {@code grads.safetensors} of a reference
 * folder holds, per upstream parameter name, the gradient of the mean next-token cross-entropy of
 * the folder's tokens ({@code logits[:, :-1]} against {@code tokens[:, 1:]}, averaged over all those
 * positions) from the official model in float64 ({@code f64.<name>}, the truth) and in float32
 * ({@code f32.<name>}), and both losses in its metadata.
 *
 * <p>Per tensor, with {@code s = max|truth|} and {@code G} the largest {@code s} of the model (its
 * gradient scale), our float32 gradient's error {@code e = max|ours - truth|} may be at most the
 * larger of
 *
 * <ul>
 *   <li>the official bound: 1.5 x the official float32 gradient's error + 1e-6 x s, and
 *   <li>the round-off floor: {@value #FLOAT32_NOISE} x s (about 400 float32 ulps of the tensor),
 *       or {@value #MODEL_NOISE} x G (8 to 16 float32 ulps of the model's largest gradient),
 *       whichever is larger.
 * </ul>
 *
 * Both are printed per tensor, relative to s ({@code max|ours - truth| / max|truth|}), with the one
 * that binds. Where the official bound is above the floor it alone decides, as strictly as before.
 * Our loss may be off from the float64 loss by at most 1.5 x the official float32 loss's error +
 * 1e-6.
 *
 * <p>Why the floor: a single gradient of a float32 model is dominated by round-off that moves with
 * a 1-ulp change of the inputs. Over 30 such perturbations (same maths), the worst tensor of our
 * model ranged 1.18-6.92 x the official figure on neurips-a (parallel form) and 1.38-3.32 x on
 * large-a (chunkwise 16); a float64 kernel inside did not change that, and our kernels' own
 * backward round-off was measured negligible (an exact Jacobian applied to our incoming gradient
 * reproduces our errors). The largest relative errors measured were 7.4e-6 (neurips-a q_proj) and
 * 1.9e-5 (large-a); a wrong gradient is off by 1e-2 or more.
 *
 * <p>Why the floor also scales with G: a tensor whose gradient is a sum of cancelling terms (a
 * gate bias: {@code max|truth|} 3e-4 to 5e-5 where other tensors reach 0.5 to 1) keeps the
 * absolute round-off of those larger terms, so its error relative to its own small maximum is large
 * while being a few ulps of the model's gradients (large-b's igate_preact.bias: 5.4e-5 relative,
 * official 2.6e-6). That part of the floor still catches a 1% error (1.01 x our gradient) in every
 * tensor with {@code s > 1e-4 x G}: every tensor of the shipped references, which the test checks
 * by scaling each of our gradients by 1.01; {@link #theCriterionAcceptsRoundOffAndRefusesDefects} checks the
 * criterion itself on the figures of the hidden large-b.
 *
 * Runs on every folder of {@link ReferenceParityTest#referenceFolders()} that has the file (the
 * shipped ones must, see {@code ReferenceParityTest.shippedReferencesArePresent}).
 *
 * <p>A garbage collection between the forward and the backward pass must not change any gradient
 * ({@link #gradientsDoNotDependOnGarbageCollectionBeforeBackward}); where it does, the parity
 * figures of a run that happens to collect there are garbage (errors of order 1 or NaN), not
 * round-off.
 */
class ReferenceGradientParityTest {

    static final double RATIO = 1.5;
    static final double SLACK = 1e-6;
    /** The error, relative to max|truth|, that float32 round-off alone reaches here (see above). */
    static final double FLOAT32_NOISE = 5e-5;
    /** The error, relative to the model's largest gradient, that is float32 round-off whatever the tensor. */
    static final double MODEL_NOISE = 1e-6;
    /** The factor a gradient is scaled by to check that the criterion still sees a 1% error. */
    static final double ONE_PERCENT_OFF = 1.01;

    static Stream<Path> referenceFolders() throws Exception {
        return ReferenceParityTest.referenceFolders();
    }

    /**
     * The mLSTM form the official code trains with, so that our float32 round-off is measured on
     * the same computation as the official float32 gradient. All forms compute the same function;
     * the choice only moves float32 round-off.
     *
     * <ul>
     *   <li>NeurIPS {@code xLSTMLMModel}: its mLSTM cell has one backend, {@code
     *       parallel_stabilized_simple}, the parallel form (our default for this architecture).
     *   <li>xLSTM Large: training mode ({@code mode="train"}) runs the mLSTM backend's chunkwise
     *       kernel ({@code chunkwise--native_autograd} on the CPU) with the config's {@code
     *       chunk_size}. That kernel requires a sequence length divisible by the chunk size, so for a
     *       length that is not (the shipped {@code large-a}: 40 tokens, chunk 16) the official
     *       training mode is {@code train_with_padding}, which zero-pads the sequence to a multiple
     *       of the chunk size: our chunkwise form with a padded last chunk. (The inference mode,
     *       chunkwise then the recurrent step for the tail, is our default for the logits; upstream
     *       documents it as not for training.)
     * </ul>
     */
    static MLstmForm trainingForm(XLstmLanguageModel model) {
        if (model.getConfig() instanceof XLstmLargeConfig large) {
            return MLstmForm.chunkwise(large.chunkSize());
        }
        return MLstmForm.parallel(64);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceFolders")
    void gradientsMatchFloat64Truth(Path folder) throws Exception {
        Path gradsFile = folder.resolve(ReferenceParityTest.GRADS_FILE);
        if (!Files.isRegularFile(gradsFile)) {
            System.out.println("[grad] NOTE " + folder + ": no " + ReferenceParityTest.GRADS_FILE + ", gradient parity skipped");
        }
        assumeTrue(Files.isRegularFile(gradsFile), folder + ": no " + ReferenceParityTest.GRADS_FILE);
        String name = folder.getFileName().toString();
        List<String> failures = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(folder, manager);
            MLstmForm form = trainingForm(model);
            model.setForm(form);
            NDArray tokens = SafeTensors.load(folder.resolve("io.safetensors"), manager).get("tokens");
            Map<String, NDArray> grads = SafeTensors.load(gradsFile, manager);
            Map<String, String> metadata = SafeTensors.readMetadata(gradsFile);

            double loss = lossAndGradients(model, tokens);
            System.out.printf("[grad] %s: form %s, tokens %s%n", folder, form, tokens.getShape());

            // The loss against the metadata.
            double lossF64 = Double.parseDouble(required(metadata, "loss_f64", gradsFile));
            double lossF32 = Double.parseDouble(required(metadata, "loss_f32", gradsFile));
            double lossOurs = Math.abs(loss - lossF64);
            double lossOfficial = Math.abs(lossF32 - lossF64);
            double lossLimit = RATIO * lossOfficial + SLACK;
            System.out.printf("[grad] %-10s loss: ours %.9f, official f32 %.9f, truth f64 %.9f;"
                            + " |ours - truth| %.3e, |official - truth| %.3e, limit %.3e%n",
                    name, loss, lossF32, lossF64, lossOurs, lossOfficial, lossLimit);
            if (!(lossOurs <= lossLimit)) {
                failures.add(String.format("%s loss: ours %.9f vs truth %.9f: |diff| %.3e > %.1f x official float32's %.3e + %.0e",
                        name, loss, lossF64, lossOurs, RATIO, lossOfficial, SLACK));
            }

            // Every parameter has a truth gradient and every truth gradient a parameter.
            Map<String, Parameter> params = ParameterNames.of(model);
            List<String> truthNames = grads.keySet().stream()
                    .filter(k -> k.startsWith("f64.")).map(k -> k.substring(4)).toList();
            TreeSet<String> onlyOurs = new TreeSet<>(params.keySet());
            truthNames.forEach(onlyOurs::remove);
            TreeSet<String> onlyTruth = new TreeSet<>(truthNames);
            onlyTruth.removeAll(params.keySet());
            assertTrue(onlyOurs.isEmpty() && onlyTruth.isEmpty(), gradsFile + ": parameters without a truth gradient "
                    + onlyOurs + "; truth gradients without a parameter " + onlyTruth);

            record Measured(String tensor, String shape, double scale, double ours, double official, double mutated) {}
            List<Measured> measured = new ArrayList<>();
            for (String tensor : truthNames) {
                NDArray truth = grads.get("f64." + tensor);
                NDArray official = grads.get("f32." + tensor);
                assertNotNull(official, gradsFile + ": f64." + tensor + " has no f32." + tensor);
                assertEquals(DataType.FLOAT64, truth.getDataType(), gradsFile + ": f64." + tensor + " should be F64");
                NDArray ours = params.get(tensor).getArray();
                assertTrue(ours.hasGradient(), name + " " + tensor + ": no gradient");
                NDArray gradient = ours.getGradient();
                assertEquals(truth.getShape(), gradient.getShape(), name + " " + tensor + ": our gradient's shape vs f64." + tensor);
                assertEquals(truth.getShape(), official.getShape(), gradsFile + ": f32." + tensor + " shape vs f64." + tensor);
                double[] t = truth.toDoubleArray();
                measured.add(new Measured(tensor, truth.getShape().toString(), maxAbs(t), ReferenceParityTest.maxAbsDiff(gradient, t),
                        ReferenceParityTest.maxAbsDiff(official, t),
                        ReferenceParityTest.maxAbsDiff(gradient.mul(ONE_PERCENT_OFF), t)));
            }
            double modelScale = measured.stream().mapToDouble(Measured::scale).max().orElseThrow();
            List<Figure> figures = new ArrayList<>();
            List<String> blind = new ArrayList<>();
            for (Measured m : measured) {
                Figure f = new Figure(m.tensor, m.shape, m.scale, modelScale, m.ours, m.official);
                figures.add(f);
                Figure mutated = new Figure(m.tensor, m.shape, m.scale, modelScale, m.mutated, m.official);
                System.out.printf("[grad] %-10s %-62s %-12s max|truth| %.3e  ours-vs-truth %.3e  official-vs-truth %.3e  ratio %.3f"
                                + "  official bound %.3e  floor %.3e  (%s binds)  1.01 x ours %.3e%s%s%n",
                        name, f.tensor, f.shape, f.scale, f.ours(), f.official(), f.ratio(), f.officialBound(), f.floor(),
                        f.binding(), mutated.ours(), f.passes() ? "" : "  OVER", mutated.passes() ? "  (1.01 x passes)" : "");
                if (!f.passes()) {
                    failures.add(f.failure(name));
                }
                if (mutated.passes()) {
                    blind.add(String.format("%s (max|truth| %.3e, %.1e x the largest)", f.tensor, f.scale, f.scale / modelScale));
                }
            }
            Figure worst = figures.stream().max(Comparator.comparingDouble(Figure::ratio)).orElseThrow();
            Figure tightest = figures.stream().max(Comparator.comparingDouble(Figure::usage)).orElseThrow();
            System.out.printf("[grad] %-10s summary: %d tensors, largest gradient %.3e; worst ratio %.3f (%s: ours %.3e, official %.3e);"
                            + " closest to the limit %s at %.0f%% of it; %d over the limit; %d bound by the floor;"
                            + " a 1%% error (1.01 x ours) is over the limit in %d of %d tensors%s%n",
                    name, figures.size(), modelScale, worst.ratio(), worst.tensor, worst.ours(), worst.official(),
                    tightest.tensor, 100 * tightest.usage(), figures.stream().filter(f -> !f.passes()).count(),
                    figures.stream().filter(f -> f.binding().equals("floor")).count(),
                    figures.size() - blind.size(), figures.size(), blind.isEmpty() ? "" : "; not in " + blind);
            if (ReferenceParityTest.isShipped(folder)) {
                // On the shipped references the floor must hide no 1% error: else it is too loose.
                assertTrue(blind.isEmpty(), folder + ": the criterion accepts 1.01 x our gradient of " + blind);
            }
        }
        assertTrue(failures.isEmpty(), folder + ": " + failures.size() + " gradient parity failures:\n  " + String.join("\n  ", failures));
    }

    /**
     * The criterion alone, on the figures a hidden reference reported ({@code large-b}:
     * igate_preact.bias off by 5.4e-5 relative to its max|truth| where the official float32 is off
     * by 2.6e-6; that tensor's max|truth| is 5.4e-5, other tensors' gradients are of order 1), and on
     * real defects, which must still fail.
     */
    @Test
    void theCriterionAcceptsRoundOffAndRefusesDefects() {
        // large-b: once failed (the official bound 4.9e-6 and the relative floor 5e-5 are both below 5.4e-5)
        Figure largeB = Figure.of(5.4e-5, 1.0, 5.4e-5, 2.6e-6);
        assertTrue(largeB.officialBound() < 5.4e-5 && FLOAT32_NOISE < 5.4e-5, "the figures of the reported failure");
        assertTrue(largeB.passes(), "large-b igate_preact.bias: " + largeB.failure("large-b"));
        assertEquals("floor", largeB.binding());
        // the same relative error passes on any tensor whose max|truth| is below 1.8% of the largest
        assertTrue(Figure.of(1.8e-2, 1.0, 5.4e-5, 2.6e-6).passes());
        assertFalse(Figure.of(1.0, 1.0, 5.4e-5, 2.6e-6).passes(), "on the largest tensor 5.4e-5 is more than round-off");
        // where the official bound is above the floor it alone decides, as strictly as before
        Figure large = Figure.of(0.2, 1.0, 2.5e-4, 1.6e-4);
        assertEquals("official", large.binding());
        assertEquals(1.5 * 1.6e-4 + 1e-6, large.limit(), 1e-12);
        assertFalse(large.passes());
        assertTrue(Figure.of(0.2, 1.0, 2.4e-4, 1.6e-4).passes());

        // defects: a 1% error, a sign error, a missing term, in a tensor down to 1e-4 x the largest
        for (double scale : new double[] {1.0, 1e-2, 1e-3, 2e-4}) {
            assertFalse(Figure.of(scale, 1.0, 1e-2, 2.6e-6).passes(), "1.01 x the gradient, max|truth| " + scale);
            assertFalse(Figure.of(scale, 1.0, 2.0, 2.6e-6).passes(), "the sign flipped, max|truth| " + scale);
            assertFalse(Figure.of(scale, 1.0, 0.1, 2.6e-6).passes(), "a term of a tenth missing, max|truth| " + scale);
        }
        // large-b's tensor itself, with a term of a tenth of its gradient missing, or its sign flipped
        assertFalse(Figure.of(5.4e-5, 1.0, 0.1, 2.6e-6).passes());
        assertFalse(Figure.of(5.4e-5, 1.0, 2.0, 2.6e-6).passes());
        // NaN never passes; a true gradient of exactly zero is measured in absolute terms
        assertFalse(Figure.of(1.0, 1.0, Double.NaN, 2.6e-6).passes());
        assertTrue(new Figure("z", "(1)", 0, 1.0, 1e-7, 0).passes());
        assertFalse(new Figure("z", "(1)", 0, 1.0, 1e-5, 0).passes());
    }

    /**
     * Back-propagates the mean next-token cross-entropy of {@code tokens} (logits of positions
     * {@code 0..S-2} against tokens {@code 1..S-1}) into the parameters' gradients.
     *
     * @return the loss
     */
    static double lossAndGradients(XLstmLanguageModel model, NDArray tokens) {
        return lossAndGradients(model, tokens, () -> {});
    }

    /**
     * As {@link #lossAndGradients(XLstmLanguageModel, NDArray)}, running {@code
     * betweenForwardAndBackward} after the forward pass and before the backward pass.
     */
    static double lossAndGradients(XLstmLanguageModel model, NDArray tokens, Runnable betweenForwardAndBackward) {
        long len = tokens.getShape().get(1);
        NDArray labels = tokens.get(new NDIndex().addAllDim().addSliceDim(1, len));
        ParameterStore ps = new ParameterStore(tokens.getManager(), false);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray logits = model.logits(ps, tokens, true);
            NDArray predictions = logits.get(new NDIndex().addAllDim().addSliceDim(0, len - 1));
            NDArray loss = new CausalLmLoss().evaluate(new NDList(labels), new NDList(predictions));
            betweenForwardAndBackward.run();
            gc.backward(loss);
            return loss.getFloat();
        }
    }

    /**
     * The gradients must not depend on what the JVM does between the forward and the backward
     * pass. A garbage collection there, followed by fresh direct-memory allocations (what any
     * training loop does now and then), must leave every gradient as it was.
     *
     * <p>Guards against the autograd graph holding memory that Java owns and may free: DJL's
     * PyTorch engine turns {@code NDArray.mul(Number)} and {@code div(Number)} into an operation
     * with a scalar array backed by a Java direct buffer and closes that array at once; the
     * graph keeps the native tensor for the backward pass but not the buffer, so after a
     * collection the backward pass reads freed memory. Minimal case: {@code x.mul(3f).sum()},
     * then {@code System.gc()} and some {@code ByteBuffer.allocateDirect}, then backward: the
     * gradient of x is not 3.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceFolders")
    void gradientsDoNotDependOnGarbageCollectionBeforeBackward(Path folder) throws IOException {
        String name = folder.getFileName().toString();
        Map<String, float[]> quiet = gradients(folder, () -> {});
        Map<String, float[]> collected = gradients(folder, ReferenceGradientParityTest::collectGarbageAndReuseMemory);
        List<String> changed = new ArrayList<>();
        for (Map.Entry<String, float[]> e : quiet.entrySet()) {
            float[] a = e.getValue();
            float[] b = collected.get(e.getKey());
            double scale = 0;
            double diff = 0;
            for (int i = 0; i < a.length; i++) {
                scale = Math.max(scale, Math.abs(a[i]));
                diff = Math.max(diff, Math.abs((double) a[i] - b[i]));
                if (Float.isNaN(b[i])) {
                    diff = Double.NaN;
                    break;
                }
            }
            if (!(diff <= 1e-6 * Math.max(scale, 1e-30))) {
                changed.add(String.format("%s: max|diff| %.3e (max|gradient| %.3e)", e.getKey(), diff, scale));
            }
        }
        System.out.printf("[grad] %-10s gradients after a garbage collection between forward and backward: %d of %d tensors changed%n",
                name, changed.size(), quiet.size());
        assertTrue(changed.isEmpty(), folder + ": a garbage collection between forward and backward changed "
                + changed.size() + " of " + quiet.size() + " gradients:\n  " + String.join("\n  ", changed));
    }

    private static Map<String, float[]> gradients(Path folder, Runnable betweenForwardAndBackward) throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(folder, manager);
            model.setForm(trainingForm(model));
            NDArray tokens = SafeTensors.load(folder.resolve("io.safetensors"), manager).get("tokens");
            lossAndGradients(model, tokens, betweenForwardAndBackward);
            Map<String, float[]> out = new LinkedHashMap<>();
            ParameterNames.of(model).forEach((k, p) -> out.put(k, p.getArray().getGradient().toFloatArray()));
            return out;
        }
    }

    /** Keeps the churned buffers reachable until the next round. */
    private static volatile Object sink;

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

    /**
     * One tensor's figures and the criterion (see the class comment). Errors are absolute; the
     * printed figures are relative to {@code scale}, the tensor's max|truth| (absolute where the
     * true gradient is exactly zero).
     *
     * @param scale max|truth| of the tensor
     * @param modelScale the largest max|truth| of any tensor of the model
     * @param oursError max|ours - truth|
     * @param officialError max|official float32 - truth|
     */
    record Figure(String tensor, String shape, double scale, double modelScale, double oursError, double officialError) {

        /** A figure of one tensor outside a model run (the criterion's own tests). */
        static Figure of(double scale, double modelScale, double oursRelative, double officialRelative) {
            return new Figure("t", "(1)", scale, modelScale, oursRelative * scale, officialRelative * scale);
        }

        private double denominator() {
            return scale > 0 ? scale : 1;
        }

        double ours() {
            return oursError / denominator();
        }

        double official() {
            return officialError / denominator();
        }

        /** 1.5 x the official error + 1e-6, relative to the tensor. */
        double officialBound() {
            return (RATIO * officialError + SLACK * scale) / denominator();
        }

        /** The round-off floor relative to the tensor: 5e-5, or 1e-6 x the model's largest gradient. */
        double floor() {
            return Math.max(FLOAT32_NOISE * scale, MODEL_NOISE * modelScale) / denominator();
        }

        double limit() {
            return Math.max(officialBound(), floor());
        }

        String binding() {
            return officialBound() >= floor() ? "official" : "floor";
        }

        boolean passes() {
            return ours() <= limit(); // false for NaN
        }

        double usage() {
            return ours() / limit();
        }

        double ratio() {
            return oursError / officialError;
        }

        String failure(String folder) {
            return String.format("%s %s %s: max|ours - truth| / max|truth| = %.3e > the limit %.3e, the larger of %.1f x"
                            + " official float32's %.3e + %.0e = %.3e and the round-off floor %.3e (max(%.0e, %.0e x the"
                            + " largest gradient %.3e / max|truth| %.3e)); ratio to official %.3f",
                    folder, tensor, shape, ours(), limit(), RATIO, official(), SLACK, officialBound(), floor(),
                    FLOAT32_NOISE, MODEL_NOISE, modelScale, scale, ratio());
        }
    }

    private static String required(Map<String, String> metadata, String key, Path file) {
        String value = metadata.get(key);
        assertNotNull(value, file + ": metadata has no " + key + " (has " + new LinkedHashMap<>(metadata).keySet() + ")");
        return value;
    }

    private static double maxAbs(double[] values) {
        double max = 0;
        for (double v : values) {
            max = Math.max(max, Math.abs(v));
        }
        return max;
    }
}
