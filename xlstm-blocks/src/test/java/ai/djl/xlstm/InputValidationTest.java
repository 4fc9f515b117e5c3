package ai.djl.xlstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

/** Bad input gets an IllegalArgumentException that names the problem. */
class InputValidationTest {

    private static final int VOCAB = 20;

    @Test
    void rejectsBadTokensAndStates() {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model =
                    TestModels.randomModel(TestModels.neurips(2, List.of(0), VOCAB), manager, 1, 0.1f);
            ParameterStore ps = new ParameterStore(manager, false);

            NDArray outOfRange = manager.create(new long[] {1, 2, VOCAB}).reshape(1, 3);
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> model.logits(ps, outOfRange, false));
            assertTrue(e.getMessage().contains("token id " + VOCAB), e.getMessage());

            NDArray negative = manager.create(new long[] {-1}).reshape(1, 1);
            e = assertThrows(IllegalArgumentException.class, () -> model.logits(ps, negative, false));
            assertTrue(e.getMessage().contains("token id -1"), e.getMessage());

            NDArray rank1 = manager.create(new long[] {1, 2, 3});
            e = assertThrows(IllegalArgumentException.class, () -> model.logits(ps, rank1, false));
            assertTrue(e.getMessage().contains("rank 2"), e.getMessage());

            NDArray floats = manager.create(new float[] {1, 2}).reshape(1, 2);
            e = assertThrows(IllegalArgumentException.class, () -> model.logits(ps, floats, false));
            assertTrue(e.getMessage().contains("integer"), e.getMessage());

            XLstmState state3 = model.zeroState(manager, manager.getDevice(), 3);
            NDArray batch2 = TestModels.randomTokens(manager, 2, 4, VOCAB);
            e = assertThrows(IllegalArgumentException.class, () -> model.forward(ps, batch2, state3, false));
            assertTrue(e.getMessage().contains("batch size 3") && e.getMessage().contains("batch size 2"), e.getMessage());

            XLstmLanguageModel other =
                    TestModels.randomModel(TestModels.neurips(2, List.of(1), VOCAB), manager, 1, 0.1f);
            XLstmState foreign = other.zeroState(manager, manager.getDevice(), 2);
            e = assertThrows(IllegalArgumentException.class, () -> model.forward(ps, batch2, foreign, false));
            assertTrue(e.getMessage().contains("block 0"), e.getMessage());

            // A valid call still works after the rejections.
            assertEquals(3, model.forward(ps, batch2, null, false).logits().getShape().dimension());
        }
    }

    /**
     * The Block form ([tokens, state...]) with a state of the wrong number of arrays: the message
     * gives the count per block and in total, and how many came; every block kind's stateSize is
     * the size of its zero state.
     */
    @Test
    void aStateOfTheWrongLengthNamesTheCountsPerBlockAndInTotal() {
        try (NDManager manager = NDManager.newBaseManager()) {
            // sLSTM at block 1 of 4: mLSTM 1 + 3 arrays, sLSTM 1 + 4, both with a conv window
            XLstmLanguageModel model =
                    TestModels.randomModel(TestModels.neurips(4, List.of(1), VOCAB), manager, 1, 0.1f);
            XLstmLanguageModel large = TestModels.randomModel(TestModels.large(VOCAB, 4), manager, 1, 0.1f);
            ParameterStore ps = new ParameterStore(manager, false);
            for (XLstmLanguageModel m : List.of(model, large)) {
                for (int i = 0; i < m.getStack().getBlocks().size(); i++) {
                    var block = m.getStack().getBlocks().get(i);
                    assertEquals(block.zeroState(manager, manager.getDevice(), 1).tensors().size(), block.stateSize(),
                            block.getClass().getSimpleName() + " " + i);
                }
            }
            NDArray tokens = TestModels.randomTokens(manager, 1, 3, VOCAB);
            NDList state = model.zeroState(manager, manager.getDevice(), 1).toNDList();
            assertEquals(17, state.size());
            for (int n : new int[] {0, 1, 16, 18}) {
                NDList input = new NDList(tokens);
                for (int i = 0; i < n; i++) {
                    input.add(state.get(i % state.size()));
                }
                if (n == 0) {
                    assertEquals(1, model.forward(ps, input, false).size(), "no state: logits only");
                    continue;
                }
                IllegalArgumentException e =
                        assertThrows(IllegalArgumentException.class, () -> model.forward(ps, input, false), n + " arrays");
                assertTrue(e.getMessage().contains("17 arrays (block 0: 4, block 1: 5, blocks 2-3: 4 each")
                        && e.getMessage().contains("got " + n), e.getMessage());
            }
            NDList largeState = large.zeroState(manager, manager.getDevice(), 1).toNDList();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> large.stateOf(largeState.subNDList(1)));
            assertTrue(e.getMessage().contains("6 arrays (blocks 0-1: 3 each") && e.getMessage().contains("got 5"),
                    e.getMessage());
        }
    }

    @Test
    void rejectsInvalidConfigs() {
        assertConfigError(Map.of("num_heads", 3), "num_heads 3");
        assertConfigError(Map.of("slstm_at", List.of(5)), "slstm_at position 5");
        assertConfigError(Map.of("mlstm", Map.of("conv1d_kernel_size", -1)), "conv1d_kernel_size must be in [0, 64], got -1");
        assertConfigError(Map.of("vocab_size", 0), "vocab_size must be in [1, 16777216], got 0");
        assertConfigError(Map.of("architecture", "gpt"), "unknown architecture 'gpt'");
        assertConfigError(Map.of("feedforward", Map.of("act_fn", "tanhh")), "act_fn");
    }

    private static void assertConfigError(Map<String, Object> override, String expected) {
        Map<String, Object> m = TestModels.neuripsFields(override);
        if (override.containsKey("num_heads")) {
            m.put("slstm", Map.of("num_heads", override.get("num_heads")));
        }
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> XLstmConfig.fromMap(m));
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' lacks '" + expected + "'");
    }
}
