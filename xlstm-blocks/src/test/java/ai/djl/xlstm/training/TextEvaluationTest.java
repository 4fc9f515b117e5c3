package ai.djl.xlstm.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalLong;
import java.util.Random;

/** Evaluation in segments with the state carried equals one pass over the whole text. */
class TextEvaluationTest {

    @Test
    void longSequencesLeaveTheQuadraticParallelForm() {
        ai.djl.xlstm.components.MLstmForm parallel = ai.djl.xlstm.components.MLstmForm.parallel(64);
        org.junit.jupiter.api.Assertions.assertTrue(parallel.useParallel(1024, false, false));
        org.junit.jupiter.api.Assertions.assertFalse(parallel.useParallel(1025, false, false), "chunkwise past 1024");
        org.junit.jupiter.api.Assertions.assertFalse(parallel.useParallel(10, true, false), "chunkwise from a state");
        org.junit.jupiter.api.Assertions.assertFalse(parallel.useParallel(10, false, true), "chunkwise to a state");
    }

    @Test
    void segmentedEvaluationEqualsOnePass() {
        for (XLstmConfig config : List.of(TestModels.neurips(3, List.of(1), 50), TestModels.large(50, 16))) {
            try (NDManager manager = NDManager.newBaseManager()) {
                Engine.getInstance().setRandomSeed(5);
                XLstmLanguageModel model = XLstmLanguageModel.create(config);
                model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
                Random random = new Random(3);
                long[] tokens = new long[301];
                for (int i = 0; i < tokens.length; i++) {
                    tokens[i] = random.nextInt(50);
                }
                // one pass: the full-sequence logits of tokens[0..299] against tokens[1..300]
                NDArray input = manager.create(java.util.Arrays.copyOf(tokens, 300)).reshape(1, 300);
                NDArray labels = manager.create(java.util.Arrays.copyOfRange(tokens, 1, 301)).reshape(1, 300);
                NDArray logits = model.logits(new ParameterStore(manager, false), input, false);
                double onePass = new CausalLmLoss().evaluate(new NDList(labels), new NDList(logits)).getFloat();
                for (int segment : new int[] {1, 7, 64, 300, 1000}) {
                    TextEvaluation.Result r = TextEvaluation.evaluate(model, manager, tokens, segment, null);
                    System.out.printf("[eval] %s segment %d: loss %.6f vs one pass %.6f%n", config.architecture(),
                            segment, r.loss(), onePass);
                    assertEquals(300, r.tokens());
                    assertEquals(onePass, r.loss(), 1e-4, config.architecture() + " segment " + segment);
                    assertEquals(Math.exp(r.loss()), r.perplexity(), 1e-9);
                }
                assertThrows(IllegalArgumentException.class,
                        () -> TextEvaluation.evaluate(model, manager, new long[] {1, 50}, 4, null));
                assertThrows(IllegalArgumentException.class,
                        () -> TextEvaluation.evaluate(model, manager, new long[] {1}, 4, null));
            }
        }
    }

    @Test
    void aDocumentStartsWithTheEndOfTextTokenWhenThereIsOne() {
        long[] ids = {5, 6, 7};
        assertArrayEquals(new long[] {9, 5, 6, 7}, TextEvaluation.asDocument(ids, OptionalLong.of(9)));
        assertArrayEquals(ids, TextEvaluation.asDocument(ids, OptionalLong.empty()));
    }
}
