package ai.djl.xlstm.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.Test;

/**
 * The loss against a log-softmax computed by hand, masked labels, and the reuse of the last result
 * for the very same arrays (the trainer's loss, then its evaluators) but never for other arrays.
 */
class CausalLmLossTest {

    @Test
    void theLossIsTheMeanNegativeLogLikelihoodOfTheLabelledPositions() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray logits = manager.randomNormal(new Shape(2, 3, 5));
            NDArray labels = manager.create(new long[] {1, 4, CausalLmLoss.IGNORE_INDEX, 0, 2, 3}).reshape(2, 3);
            float[] z = logits.toFloatArray();
            long[] y = labels.toLongArray();
            double sum = 0;
            int count = 0;
            for (int p = 0; p < 6; p++) {
                if (y[p] == CausalLmLoss.IGNORE_INDEX) {
                    continue;
                }
                double norm = 0;
                for (int v = 0; v < 5; v++) {
                    norm += Math.exp(z[p * 5 + v]);
                }
                sum += Math.log(norm) - z[p * 5 + (int) y[p]];
                count++;
            }
            float loss = new CausalLmLoss().evaluate(new NDList(labels), new NDList(logits)).getFloat();
            assertEquals(sum / count, loss, 1e-5);
            float ppl = new Perplexity().evaluate(new NDList(labels), new NDList(logits)).getFloat();
            assertEquals(Math.exp(sum / count), ppl, 1e-4 * Math.exp(sum / count));
        }
    }

    @Test
    void theSameArraysReuseTheResultOtherArraysDoNot() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray logits = manager.randomNormal(new Shape(2, 4, 7));
            NDArray labels = manager.randomInteger(0, 7, new Shape(2, 4), ai.djl.ndarray.types.DataType.INT64);
            NDArray[] first = CausalLmLoss.negativeLogLikelihood(labels, logits);
            assertSame(first, CausalLmLoss.negativeLogLikelihood(labels, logits), "same arrays: reused");
            NDArray other = logits.duplicate();
            NDArray[] second = CausalLmLoss.negativeLogLikelihood(labels, other);
            assertNotSame(first, second, "other logits: computed");
            assertEquals(first[0].getFloat(), second[0].getFloat(), 1e-5f);
            NDArray shifted = other.add(1f).mul(2f);
            assertNotSame(second, CausalLmLoss.negativeLogLikelihood(labels, shifted));
            try (NDManager batch = manager.newSubManager()) {
                NDArray l = logits.duplicate();
                l.attach(batch);
                CausalLmLoss.negativeLogLikelihood(labels, l);
                batch.close();
                assertThrows(IllegalStateException.class, () -> CausalLmLoss.negativeLogLikelihood(labels, l),
                        "a closed array is not reused (and cannot be read)");
            }
        }
    }
}
