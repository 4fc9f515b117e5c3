package ai.djl.xlstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.components.XLstmBlock;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.model.XLstmBlockStack;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

/**
 * The DJL block contract of the recurrent blocks and the block stack, as DJL's {@code LSTM}: {@code
 * [x]} gives {@code [y]}, {@code [x, state...]} gives {@code [y, state'...]}, and a sequence cut in
 * two and carried through the returned state gives the outputs of one pass.
 */
class BlockContractTest {

    private static final int LEN = 10;
    private static final int CUT = 6;

    private static List<XLstmConfig> configs() {
        return List.of(TestModels.neurips(3, List.of(1), 40), TestModels.large(40, 4));
    }

    private static NDArray positions(NDArray x, long from, long to) {
        return x.get(new NDIndex().addAllDim().addSliceDim(from, to));
    }

    private static void assertClose(NDArray expected, NDArray actual, String what) {
        assertEquals(expected.getShape(), actual.getShape(), what);
        float diff = expected.sub(actual).abs().max().getFloat();
        assertTrue(diff < 2e-5f, what + ": max abs difference " + diff);
    }

    @Test
    void blocksAndStackTakeAndReturnStateAsExtraArrays() {
        for (XLstmConfig config : configs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = TestModels.randomModel(config, manager, 7, 0.2f);
                ParameterStore ps = new ParameterStore(manager, false);
                XLstmBlockStack stack = model.getStack();
                NDArray x = manager.randomNormal(new Shape(2, LEN, config.embeddingDim())); // [B, S, D]
                String name = config.architecture().toString();

                // [x] -> [y]: the one-array form runs from the zero state (it threw before)
                NDArray whole = stack.forward(ps, new NDList(x), false).singletonOrThrow();
                assertClose(stack.forward(ps, x, null, false, false).getKey(), whole, name + " stack [x]");
                assertClose(whole, stack.forward(ps, x, false), name + " stack one-array forward");

                // [x1, zero state] -> [y1, s1]; [x2, s1] -> [y2, s2]: one pass, carried
                NDList first = new NDList(positions(x, 0, CUT));
                first.addAll(stack.zeroState(manager, x.getDevice(), 2).toNDList());
                NDList out1 = stack.forward(ps, first, false);
                NDList second = new NDList(positions(x, CUT, LEN));
                second.addAll(out1.subNDList(1));
                NDList out2 = stack.forward(ps, second, false);
                assertEquals(first.size(), out1.size(), name + ": [y, state...] as many arrays as [x, state...]");
                assertClose(whole, NDArrays.concat(new NDList(out1.get(0), out2.get(0)), 1), name + " carried");
                NDList direct = stack.forward(ps, x, null, true, false).getValue().toNDList();
                for (int i = 0; i < direct.size(); i++) {
                    assertClose(direct.get(i), out2.get(i + 1), name + " state array " + i);
                }

                // every residual block on its own, the same way
                for (XLstmBlock block : stack.getBlocks()) {
                    String b = name + " " + block.getClass().getSimpleName();
                    NDArray y = block.forward(ps, new NDList(x), false).singletonOrThrow();
                    NDList withState = new NDList(x);
                    withState.addAll(block.zeroState(manager, x.getDevice(), 2).tensors());
                    NDList out = block.forward(ps, withState, false);
                    assertEquals(1 + block.stateSize(), out.size(), b);
                    assertClose(y, out.get(0), b + " [x] vs [x, zero state]");
                    Shape[] shapes = block.getOutputShapes(withState.getShapes());
                    assertEquals(Arrays.asList(out.getShapes()), Arrays.asList(shapes), b + " output shapes");
                    IllegalArgumentException e =
                            assertThrows(IllegalArgumentException.class,
                                    () -> block.forward(ps, new NDList(x, x), false), b);
                    assertTrue(e.getMessage().contains(block.stateSize() + " state arrays, got 1"), e.getMessage());
                }
            }
        }
    }

    @Test
    void aStateOfAnotherBatchIsRefusedByName() {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmConfig config = TestModels.neurips(2, List.of(1), 40);
            XLstmLanguageModel model = TestModels.randomModel(config, manager, 3, 0.2f);
            XLstmBlockStack stack = model.getStack();
            NDList inputs = new NDList(manager.randomNormal(new Shape(2, 3, config.embeddingDim())));
            inputs.addAll(stack.zeroState(manager, inputs.get(0).getDevice(), 3).toNDList());
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class,
                            () -> stack.forward(new ParameterStore(manager, false), inputs, false));
            assertTrue(e.getMessage().contains("batch size 3 differs from the input batch size 2"), e.getMessage());
        }
    }

    @Test
    void theFormIsSetOnceForEveryCell() {
        for (XLstmConfig config : configs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = TestModels.randomModel(config, manager, 11, 0.2f);
                ParameterStore ps = new ParameterStore(manager, false);
                NDArray x = manager.randomNormal(new Shape(1, LEN, config.embeddingDim()));
                XLstmBlockStack stack = model.getStack();
                NDArray byDefault = stack.forward(ps, x, false);
                model.setForm(MLstmForm.recurrent(4));
                assertEquals(MLstmForm.recurrent(4), model.getForm());
                NDArray recurrent = stack.forward(ps, x, false);
                String name = config.architecture().toString();
                assertClose(byDefault, recurrent, name + " default vs recurrent form");
                // the cells really changed form: the two forms round differently
                assertFalse(Arrays.equals(byDefault.toFloatArray(), recurrent.toFloatArray()),
                        name + ": setForm on the model did not reach the cells");
            }
        }
    }
}
