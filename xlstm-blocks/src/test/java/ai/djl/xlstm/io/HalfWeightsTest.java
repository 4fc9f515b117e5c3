package ai.djl.xlstm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.model.LmOutput;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * float16 weights ({@link XLstmLanguageModel#castWeights}, {@link UpstreamCheckpoint#load(Path,
 * NDManager, ImportOptions, DataType)}): half the parameter bytes, logits within float16 round-off
 * of float32's, states float32, bfloat16 checkpoints loaded exactly, bfloat16 and training refused
 * with a message instead of a JVM abort. Every float16 engine call used here was first run 300 times
 * in a child JVM (see docs/benchmarks.md, "16-bit weights").
 */
class HalfWeightsTest {

    private static final long[][] IDS = {{1, 5, 9, 24, 0, 3, 7, 11, 2, 19}, {4, 4, 8, 15, 16, 23, 42 % 25, 0, 1, 2}};

    private static List<XLstmConfig> configs() {
        return List.of(TestModels.neurips(3, List.of(1), 25), TestModels.large(25, 4));
    }

    private static float[] logits(XLstmLanguageModel model, NDManager manager) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray out = model.logits(new ParameterStore(scope, false), scope.create(IDS), false);
            assertEquals(DataType.FLOAT32, out.getDataType());
            return out.toFloatArray();
        }
    }

    private static long parameterBytes(XLstmLanguageModel model) {
        return ParameterNames.of(model).values().stream()
                .mapToLong(p -> p.getArray().size() * p.getArray().getDataType().getNumOfBytes()).sum();
    }

    /** max |a - b| / max |a|. */
    private static double relativeError(float[] a, float[] b) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < a.length; i++) {
            diff = Math.max(diff, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(a[i]));
        }
        return diff / scale;
    }

    @Test
    void castToFloat16HalvesTheWeightsAndKeepsLogitsWithinHalfRoundOff() {
        for (XLstmConfig config : configs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = TestModels.randomModel(config, manager, 3, 0.2f);
                float[] f32 = logits(model, manager);
                long bytes32 = parameterBytes(model);
                model.castWeights(DataType.FLOAT16);
                assertEquals(DataType.FLOAT16, model.getWeightType());
                assertEquals(bytes32 / 2, parameterBytes(model), config.architecture());
                float[] f16 = logits(model, manager);
                double error = relativeError(f32, f16);
                // float16 keeps 11 significant bits (2^-11 = 4.9e-4 relative round-off per weight and
                // per rounded activation): the errors of a few layers stay well under 1%. Weights cast
                // wrongly (e.g. bfloat16 bits read as float16) are off by orders of magnitude.
                assertTrue(error < 1e-2, config.architecture() + ": relative logit error " + error);
                assertTrue(error > 0, config.architecture() + ": the float16 model gave float32's logits exactly");

                // The recurrent path: states stay float32 and a decode step continues the prefill.
                try (NDManager scope = manager.newSubManager()) {
                    ParameterStore ps = new ParameterStore(scope, false);
                    LmOutput out = model.forward(ps, scope.create(IDS), null, false);
                    XLstmState state = out.state();
                    for (NDArray t : state.toNDList()) {
                        assertEquals(DataType.FLOAT32, t.getDataType(), config.architecture() + " state " + t.getName());
                    }
                    LmOutput step = model.forwardLast(ps, scope.create(new long[][] {{3}, {5}}), state);
                    assertEquals(DataType.FLOAT32, step.logits().getDataType());
                }

                // Training needs float32 weights.
                try (NDManager scope = manager.newSubManager()) {
                    IllegalStateException e = assertThrows(IllegalStateException.class,
                            () -> model.forward(new ParameterStore(scope, false), scope.create(IDS), null, true));
                    assertTrue(e.getMessage().contains("float32 weights"), e.getMessage());
                }

                // Back to float32: exactly the float16 values, logits as the float16 model's within float32 round-off.
                model.castWeights(DataType.FLOAT32);
                assertEquals(DataType.FLOAT32, model.getWeightType());
                assertEquals(bytes32, parameterBytes(model));
            }
        }
    }

    /**
     * A prefill of 64 positions or more widens each float16 weight for its product on the CPU: the
     * float16 model's logits then equal, to float32 round-off, those of a float32 model holding the
     * same (float16-rounded) values, where the float16 products of a short input differ more.
     */
    @Test
    void longInputsMultiplyTheFloat16WeightsWidened() {
        for (XLstmConfig config : configs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = TestModels.randomModel(config, manager, 4, 0.2f);
                model.castWeights(DataType.FLOAT16);
                int vocab = config.vocabSize();
                long[][] ids = new long[1][70]; // above AbstractXLstmBlock.WIDEN_FROM_POSITIONS (64)
                for (int t = 0; t < ids[0].length; t++) {
                    ids[0][t] = (t * 7 + 3) % vocab;
                }
                float[] half = allLogits(model, manager, ids);
                model.castWeights(DataType.FLOAT32); // exactly the float16 values
                float[] wide = allLogits(model, manager, ids);
                double error = relativeError(wide, half);
                assertTrue(error < 1e-5, config.architecture() + ": widened products differ by " + error);
            }
        }
    }

    /** The logits of every position (the head's product over all of them is widened too). */
    private static float[] allLogits(XLstmLanguageModel model, NDManager manager, long[][] ids) {
        try (NDManager scope = manager.newSubManager()) {
            return model.forward(new ParameterStore(scope, false), scope.create(ids), null, false).logits().toFloatArray();
        }
    }

    @Test
    void bfloat16AndOtherTypesAreRefusedWithoutTouchingTheEngine(@TempDir Path dir) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(configs().get(0), manager, 3, 0.2f);
            IllegalArgumentException bf16 =
                    assertThrows(IllegalArgumentException.class, () -> model.castWeights(DataType.BFLOAT16));
            assertTrue(bf16.getMessage().contains("aborts the JVM") && bf16.getMessage().contains("float16"),
                    bf16.getMessage());
            assertThrows(IllegalArgumentException.class, () -> model.castWeights(DataType.INT32));
            assertThrows(IllegalArgumentException.class, () -> model.castWeights(null));
            assertEquals(DataType.FLOAT32, model.getWeightType());
            UpstreamCheckpoint.save(model, dir);
            IllegalArgumentException load = assertThrows(IllegalArgumentException.class,
                    () -> UpstreamCheckpoint.load(dir, manager, null, DataType.BFLOAT16));
            assertTrue(load.getMessage().contains("bfloat16"), load.getMessage());
        }
    }

    @Test
    void aWeightBeyondFloat16sRangeIsRefusedNamingIt(@TempDir Path dir) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(configs().get(0), manager, 3, 0.2f);
            Map.Entry<String, Parameter> first = ParameterNames.of(model).entrySet().iterator().next();
            NDArray w = first.getValue().getArray();
            float[] values = w.toFloatArray();
            values[values.length / 2] = -70000f;
            w.intern(manager.create(values, w.getShape()));
            IllegalArgumentException cast = assertThrows(IllegalArgumentException.class,
                    () -> model.castWeights(DataType.FLOAT16));
            assertTrue(cast.getMessage().contains(first.getValue().getName()) && cast.getMessage().contains("65504"),
                    cast.getMessage());
            assertEquals(DataType.FLOAT32, model.getWeightType(), "no weight changed");
            UpstreamCheckpoint.save(model, dir);
            IllegalArgumentException load = assertThrows(IllegalArgumentException.class,
                    () -> UpstreamCheckpoint.load(dir, manager, null, DataType.FLOAT16));
            assertTrue(load.getMessage().contains(first.getKey()) && load.getMessage().contains("65504"),
                    load.getMessage());
        }
    }

    /**
     * A checkpoint saved as BF16 loads into float16 weights holding exactly the bfloat16 values (the
     * float32 load of the same file widened to float16 without change), for both architectures, with
     * a tied head too, and gives the float32 load's logits within float16 round-off.
     */
    @Test
    void bfloat16CheckpointsLoadExactlyIntoFloat16Weights(@TempDir Path tmp) throws Exception {
        Map<String, Object> tied = new LinkedHashMap<>(TestModels.neuripsFields(Map.of()));
        tied.put("tie_weights", true);
        tied.put("vocab_size", 25);
        List<XLstmConfig> all = List.of(configs().get(0), configs().get(1), XLstmConfig.fromMap(tied));
        for (XLstmConfig config : all) {
            Path dir = tmp.resolve(config.architecture() + all.indexOf(config));
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel source = TestModels.randomModel(config, manager, 5, 0.2f);
                UpstreamCheckpoint.save(source, dir, SafeTensors.FloatStorage.BF16);
                XLstmLanguageModel wide = UpstreamCheckpoint.load(dir, manager);
                XLstmLanguageModel half = UpstreamCheckpoint.load(dir, manager, null, DataType.FLOAT16);
                assertEquals(DataType.FLOAT16, half.getWeightType());
                Map<String, Parameter> w = ParameterNames.of(wide);
                Map<String, Parameter> h = ParameterNames.of(half);
                assertEquals(w.keySet(), h.keySet());
                for (String name : w.keySet()) {
                    NDArray expected = w.get(name).getArray();
                    NDArray got = h.get(name).getArray();
                    assertEquals(DataType.FLOAT16, got.getDataType(), name);
                    assertArrayEquals(expected.toFloatArray(), got.toType(DataType.FLOAT32, false).toFloatArray(),
                            name + ": bfloat16 values must convert to float16 exactly");
                }
                float[] f32 = logits(wide, manager);
                float[] f16 = logits(half, manager);
                double error = relativeError(f32, f16);
                assertTrue(error < 1e-2 && error > 0, config.architecture() + ": relative logit error " + error);
                assertNotEquals(0, f16.length);
            }
        }
    }

    /** A model with float16 weights saves F16 (or BF16 on request) and reloads to the same weights and logits. */
    @Test
    void aFloat16ModelSavesAndReloads(@TempDir Path tmp) throws Exception {
        for (XLstmConfig config : configs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = TestModels.randomModel(config, manager, 7, 0.2f);
                model.castWeights(DataType.FLOAT16);
                float[] before = logits(model, manager);
                Path dir = tmp.resolve(config.architecture());
                UpstreamCheckpoint.save(model, dir);
                assertTrue(SafeTensors.readHeader(dir.resolve("model.safetensors")).values().stream()
                        .allMatch(t -> t.dtype().equals("F16")), "a float16 model is written as F16");
                XLstmLanguageModel again = UpstreamCheckpoint.load(dir, manager, null, DataType.FLOAT16);
                assertArrayEquals(before, logits(again, manager), config.architecture() + ": reloaded as float16");
                XLstmLanguageModel wide = UpstreamCheckpoint.load(dir, manager);
                assertEquals(DataType.FLOAT32, wide.getWeightType());
                wide.castWeights(DataType.FLOAT16); // float16 values widened, then narrowed: exact
                assertArrayEquals(before, logits(wide, manager), config.architecture() + ": reloaded as float32, cast");

                Path bf16 = tmp.resolve(config.architecture() + "-bf16");
                UpstreamCheckpoint.save(model, bf16, SafeTensors.FloatStorage.BF16);
                assertTrue(SafeTensors.readHeader(bf16.resolve("model.safetensors")).values().stream()
                        .allMatch(t -> t.dtype().equals("BF16")));
                double error = relativeError(before, logits(UpstreamCheckpoint.load(bf16, manager, null, DataType.FLOAT16), manager));
                assertTrue(error > 0 && error < 5e-2, config.architecture() + ": BF16 of float16 weights, error " + error);
            }
        }
    }
}
