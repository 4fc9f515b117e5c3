package ai.djl.xlstm.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * 16-bit weights against the official float64 truth on every reference folder: the folder's
 * float32 checkpoint loaded as float16 weights, and the same weights saved as BF16 and loaded as
 * float16 weights (bfloat16 values are exact in float16), their logits compared with {@code
 * truth64.safetensors} beside those of the float32 load. The errors are printed ({@code [half]}
 * lines); the bound, {@link #RELATIVE} of the largest logit, is twice what the bfloat16 rounding of the weights alone gives (4.7e-2 on large-a) and far
 * below what a wrong cast gives (bfloat16 bits read as float16, or weights not cast back).
 */
class HalfWeightsParityTest {

    /** The bound on max |logits - truth| / max |truth| for 16-bit weights. */
    static final double RELATIVE = 0.1;

    static Stream<Path> referenceFolders() throws IOException, URISyntaxException {
        return ReferenceParityTest.referenceFolders();
    }

    private static double[] logits(XLstmLanguageModel model, NDArray tokens, NDManager manager) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray out = model.logits(new ParameterStore(scope, false), tokens, false);
            assertEquals(DataType.FLOAT32, out.getDataType());
            return out.toType(DataType.FLOAT64, false).toDoubleArray();
        }
    }

    /** {max |x - truth|, max |x - truth| / max |truth|}. */
    private static double[] errors(double[] x, double[] truth) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < x.length; i++) {
            diff = Math.max(diff, Double.isNaN(x[i]) ? Double.POSITIVE_INFINITY : Math.abs(x[i] - truth[i]));
            scale = Math.max(scale, Math.abs(truth[i]));
        }
        return new double[] {diff, diff / scale};
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceFolders")
    void float16AndBfloat16WeightsStayNearTheTruth(Path folder, @TempDir Path tmp) throws IOException {
        Path truthFile = folder.resolve(ReferenceParityTest.TRUTH_FILE);
        if (!Files.isRegularFile(truthFile)) {
            System.out.println("[half] NOTE " + folder + ": no " + ReferenceParityTest.TRUTH_FILE + ", skipped");
            return;
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray tokens = SafeTensors.load(folder.resolve("io.safetensors"), manager).get("tokens");
            double[] truth = SafeTensors.load(truthFile, manager).get("logits").toDoubleArray();
            XLstmLanguageModel f32 = UpstreamCheckpoint.load(folder, manager);
            double[] e32 = errors(logits(f32, tokens, manager), truth);

            XLstmLanguageModel f16 = UpstreamCheckpoint.load(folder, manager, null, DataType.FLOAT16);
            assertEquals(DataType.FLOAT16, f16.getWeightType());
            double[] e16 = errors(logits(f16, tokens, manager), truth);

            f16.castWeights(DataType.FLOAT32); // the float16 values, computed in float32
            double[] e16Wide = errors(logits(f16, tokens, manager), truth);

            Path bf16Dir = tmp.resolve("bf16");
            UpstreamCheckpoint.save(f32, bf16Dir, SafeTensors.FloatStorage.BF16);
            XLstmLanguageModel bf16 = UpstreamCheckpoint.load(bf16Dir, manager, null, DataType.FLOAT16);
            double[] eBf16 = errors(logits(bf16, tokens, manager), truth);
            XLstmLanguageModel bf16Wide = UpstreamCheckpoint.load(bf16Dir, manager);
            double[] eBf16Wide = errors(logits(bf16Wide, tokens, manager), truth);

            String name = folder.getFileName().toString();
            System.out.printf("[half] %-10s max|logit| %.3f%n", name, e32[0] / e32[1]);
            System.out.printf("[half] %-10s float32 weights            max abs %.3e  rel %.3e%n", name, e32[0], e32[1]);
            System.out.printf("[half] %-10s float16 weights            max abs %.3e  rel %.3e%n", name, e16[0], e16[1]);
            System.out.printf("[half] %-10s float16 values, f32 compute max abs %.3e  rel %.3e%n", name, e16Wide[0], e16Wide[1]);
            System.out.printf("[half] %-10s BF16 file, float16 weights max abs %.3e  rel %.3e%n", name, eBf16[0], eBf16[1]);
            System.out.printf("[half] %-10s BF16 file, float32 weights max abs %.3e  rel %.3e%n", name, eBf16Wide[0], eBf16Wide[1]);
            assertTrue(e32[1] < 1e-4, name + ": float32 relative error " + e32[1]);
            assertTrue(e16[1] < RELATIVE, name + ": float16 weights, relative error " + e16[1]);
            assertTrue(eBf16[1] < RELATIVE, name + ": BF16 checkpoint as float16 weights, relative error " + eBf16[1]);
            assertTrue(e16[0] > e32[0], name + ": float16 weights gave float32's accuracy; were they cast at all?");
        }
    }
}
