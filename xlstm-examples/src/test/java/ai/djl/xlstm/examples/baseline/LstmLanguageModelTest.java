package ai.djl.xlstm.examples.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.xlstm.training.TextEvaluation;

import org.junit.jupiter.api.Test;

import java.util.Random;

/** The LSTM baseline carries its state: reading in segments equals one pass. */
class LstmLanguageModelTest {

    @Test
    void segmentedReadingEqualsOnePassAndCountsParameters() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(1);
            LstmLanguageModel model = new LstmLanguageModel(50, 16, 24, 2, 0f);
            model.initialize(manager, DataType.FLOAT32, new Shape(1, 8));
            long params = model.getParameters().values().stream().mapToLong(p -> p.getArray().size()).sum();
            // embedding 50x16, two layers of 4H(in + H) weights and 2 x 4H biases, head 24x50 + 50
            assertEquals(50 * 16 + (4 * 24 * (16 + 24) + 8 * 24) + (4 * 24 * 48 + 8 * 24) + 24 * 50 + 50, params);
            Random random = new Random(2);
            long[] tokens = new long[200];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = random.nextInt(50);
            }
            double onePass = TextEvaluation.evaluate(model, 50, model.zeroState(manager, 1), manager, tokens, 1000, null).loss();
            for (int segment : new int[] {1, 13, 64}) {
                NDList zero = model.zeroState(manager, 1);
                double loss = TextEvaluation.evaluate(model, 50, zero, manager, tokens, segment, null).loss();
                assertEquals(onePass, loss, 1e-5, "segment " + segment);
            }
        }
    }
}
