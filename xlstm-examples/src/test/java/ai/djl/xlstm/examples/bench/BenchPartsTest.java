package ai.djl.xlstm.examples.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.config.XLstmLmConfig;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

/** The parts of the harness: the bundled configs, the cost model, the tensor counter, the statistics. */
class BenchPartsTest {

    @Test
    void theBundledConfigsAreTheDocumentedModels() throws Exception {
        XLstmLmConfig small = (XLstmLmConfig) BenchConfigs.resolve("neurips-7.5m");
        assertEquals(List.of(256, 8, 8192, 4), List.of(small.embeddingDim(), small.numBlocks(), small.vocabSize(),
                small.mlstm().numHeads()));
        assertEquals(List.of(3), small.slstmAt());
        assertTrue(Math.abs(small.parameterCount() - 7.5e6) < 0.1e6, "7.5M: " + small.parameterCount());

        XLstmLargeConfig large = (XLstmLargeConfig) BenchConfigs.resolve("large-27.7m");
        assertEquals(List.of(512, 4, 6, 8192), List.of(large.embeddingDim(), large.numHeads(), large.numBlocks(),
                large.vocabSize()));
        assertTrue(Math.abs(large.parameterCount() - 27.7e6) < 0.1e6, "27.7M: " + large.parameterCount());

        XLstmLargeConfig slice = (XLstmLargeConfig) BenchConfigs.resolve("xlstm-7b-slice");
        assertEquals(List.of(4096, 8, 4, 50304), List.of(slice.embeddingDim(), slice.numHeads(), slice.numBlocks(),
                slice.vocabSize()));
        assertEquals(List.of(2048, 4096, 10944, 64), List.of(slice.qkDim(), slice.vDim(), slice.ffnUpDim(), slice.chunkSize()));
        assertEquals(List.of(15f, 30f), List.of(slice.gateSoftCap(), slice.outputLogitSoftCap()));
        assertFalse(slice.useBias());
        // all 32 blocks: xLSTM-7b's 6.87B parameters
        Map<String, Object> full = new java.util.HashMap<>(slice.toUpstreamMap());
        full.put("num_blocks", 32);
        long params = XLstmConfig.fromMap(full).parameterCount();
        assertTrue(params > 6.8e9 && params < 6.95e9, "xLSTM-7b: " + params);
    }

    @Test
    void theCostModelCountsWeightsAndFlopsByTheDocumentedFormulas() {
        for (boolean tied : new boolean[] {false, true}) {
            XLstmConfig config = XLstmConfig.fromMap(Map.of("architecture", "xlstm-neurips", "vocab_size", 50,
                    "embedding_dim", 16, "num_blocks", 2, "slstm_at", List.of(1), "tie_weights", tied,
                    "mlstm", Map.of("num_heads", 2), "slstm", Map.of("num_heads", 2)));
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = XLstmLanguageModel.create(config);
                model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
                ModelCost cost = ModelCost.of(model, manager, BenchDtype.F32);
                long p = config.parameterCount();
                long vd = 50 * 16;
                assertEquals(p, cost.parameters());
                // untied: all weights but the embedding table, plus one embedding row per sequence
                long read = tied ? 4 * p : 4 * (p - vd + 3 * 16);
                assertEquals(read, cost.decodeWeightBytes(3), "tied " + tied);
                int[] cell = cost.firstMlstmLayer();
                assertNotNull(cell);
                int inner = ((XLstmLmConfig) config).mlstm().innerDim();
                assertEquals(List.of(2, inner / 2, inner / 2), List.of(cell[0], cell[1], cell[2]));
                double matmulParams = tied ? p : p - vd; // the head is a matmul, the lookup is not
                double recurrent = 4.0 * 2 * (inner / 2) * (inner / 2);
                assertEquals(3 * (2 * matmulParams + recurrent), cost.decodeFlops(3), 1e-6);
                int dh = inner / 2;
                double body = p - vd - (tied ? 0 : vd);
                double chunk4 = 2 * (2.0 * 4 * (dh + dh) + 4.0 * dh * dh); // one mLSTM layer, chunks of 4
                assertEquals(10 * (2 * body + chunk4) + 3 * 2.0 * vd, cost.prefillFlops(10, 4), 1e-6);
                double parallel8 = 2 * 2.0 * 8 * (dh + dh); // training runs the parallel form at 8 tokens
                assertEquals(3.0 * 2 * 8 * (2 * (body + vd) + parallel8), cost.trainFlops(2, 8), 1e-6);
                assertTrue(cost.stateBytesPerSequence() > 4L * 2 * (inner / 2) * (inner / 2), "holds the mLSTM matrix memory");
            }
        }
    }

    @Test
    void theTensorCounterCountsCreatedArraysAndClosesNone() {
        assertTrue(TensorCounter.available(), "this DJL's NDScope must be readable");
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray before = manager.ones(new Shape(2));
            NDArray sum;
            NDArray closed;
            try (TensorCounter counter = TensorCounter.open()) {
                assertNotNull(counter);
                sum = before.add(1f); // 2: the scalar operand's array and the result
                closed = sum.mul(2);
                closed.close();
                assertTrue(counter.count() >= 3, "counted " + counter.count());
                long n = counter.count();
                manager.zeros(new Shape(3));
                assertEquals(n + 1, counter.count());
            }
            assertEquals(2f, sum.getFloat(0), "the counter closed an array it counted");
            assertEquals(1f, before.getFloat(0));
        }
    }

    @Test
    void statsAreMedianAndSpread() {
        Stats s = Stats.of(5, 1, 4, 2, 3);
        assertEquals(List.of(3.0, 1.0, 5.0, 2.0, 4.0, 5), List.of(s.median(), s.min(), s.max(), s.p25(), s.p75(), s.runs()));
        Stats one = Stats.of(0.5);
        assertEquals(0.5, one.p25());
        assertEquals(0.5, one.p75());
    }
}
