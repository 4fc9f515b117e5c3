package ai.djl.xlstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.model.LmOutput;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

/** The state API: select, concatenate, copy, detach, the NDList form, and constant size. */
class RecurrentStateTest {

    private static final int VOCAB = 30;

    @Test
    void neuripsStateOperations() {
        checkStateOperations(TestModels.neurips(3, List.of(1), VOCAB));
    }

    @Test
    void largeStateOperations() {
        checkStateOperations(TestModels.large(VOCAB, 8));
    }

    private static void checkStateOperations(XLstmConfig config) {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(config, manager, 5, 0.3f);
            model.setForm(MLstmForm.chunkwise(8));
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray prompts = TestModels.randomTokens(manager, 3, 13, VOCAB);
            NDArray next = TestModels.randomTokens(manager, 3, 1, VOCAB);
            LmOutput all = model.forward(ps, prompts, null, false);
            NDArray expected = model.forward(ps, next, all.state(), false).logits(); // [3, 1, V]

            // Rows prefilled one by one, then concatenated, decode like the batch.
            List<XLstmState> singles = new ArrayList<>();
            for (long r = 0; r < 3; r++) {
                singles.add(model.forward(ps, row(prompts, r), null, false).state());
            }
            XLstmState joined = XLstmState.concat(singles);
            assertEquals(3, joined.batchSize());
            assertClose(expected, model.forward(ps, next, joined, false).logits(), "concatenated states");

            // Selected rows (reordered, repeated) decode like those rows of the batch.
            XLstmState picked = all.state().select(2, 0, 2);
            NDArray pickedNext = manager.create(new long[] {next.getLong(2, 0), next.getLong(0, 0), next.getLong(2, 0)})
                    .reshape(3, 1);
            NDArray pickedLogits = model.forward(ps, pickedNext, picked, false).logits();
            assertClose(row(expected, 2), row(pickedLogits, 0), "selected row 2");
            assertClose(row(expected, 0), row(pickedLogits, 1), "selected row 0");

            // A copy is independent of the original and equal to it; detach keeps values.
            XLstmState copy = all.state().copy();
            NDList a = all.state().toNDList();
            NDList b = copy.toNDList();
            NDList d = all.state().detach().toNDList();
            for (int i = 0; i < a.size(); i++) {
                assertTrue(a.get(i).contentEquals(b.get(i)), "copy equals original");
                assertTrue(a.get(i).contentEquals(d.get(i)), "detach keeps values");
            }

            // The DJL Block form: [tokens, state...] -> [logits, state...].
            NDList in = new NDList(next);
            in.addAll(all.state().toNDList());
            NDList out = model.forward(ps, in, false);
            assertEquals(1 + a.size(), out.size());
            assertClose(expected, out.get(0), "NDList form");

            // The state's size does not depend on how many tokens it has seen.
            XLstmState longer = model.forward(ps, TestModels.randomTokens(manager, 3, 200, VOCAB), all.state(), false).state();
            NDList l = longer.toNDList();
            for (int i = 0; i < a.size(); i++) {
                assertEquals(a.get(i).getShape(), l.get(i).getShape(), "state tensor " + i);
                assertFalse(l.get(i).isNaN().any().getBoolean());
            }
        }
    }

    private static NDArray row(NDArray x, long r) {
        return x.get(new NDIndex().addSliceDim(r, r + 1));
    }

    private static void assertClose(NDArray expected, NDArray actual, String what) {
        assertEquals(expected.getShape(), actual.getShape(), what + ": shape");
        float diff = expected.sub(actual).abs().max().getFloat();
        assertTrue(diff <= 1e-5f, what + ": max|diff| " + diff);
    }

    @Test
    void zeroStateShapes() {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model =
                    TestModels.randomModel(TestModels.neurips(2, List.of(1), VOCAB), manager, 1, 0.1f);
            XLstmState s = model.zeroState(manager, manager.getDevice(), 4);
            assertEquals(4, s.batchSize());
            // mLSTM block: conv window [B, K-1, E], C [B, NH, DH, DH], n [B, NH, DH], m [B, NH, 1]
            NDList m = new NDList(s.block(0).tensors());
            assertEquals(new Shape(4, 3, 64), m.get(0).getShape());
            assertEquals(new Shape(4, 2, 32, 32), m.get(1).getShape());
            assertEquals(new Shape(4, 2, 32), m.get(2).getShape());
            assertEquals(new Shape(4, 2, 1), m.get(3).getShape());
            // sLSTM block: conv window [B, K-1, D], then y, c, n, m [B, NH, 1, DH]
            NDList sl = new NDList(s.block(1).tensors());
            assertEquals(new Shape(4, 3, 16), sl.get(0).getShape());
            assertEquals(new Shape(4, 2, 1, 8), sl.get(1).getShape());
        }
    }
}
