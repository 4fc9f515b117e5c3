package ai.djl.xlstm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.model.LmOutput;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;
import ai.djl.xlstm.training.TokenWindowDataset;
import ai.djl.xlstm.training.TrainingSession;
import ai.djl.xlstm.training.TrainingSettings;

import org.junit.jupiter.api.Test;

import java.util.List;

/**
 * Nothing accumulates in the model's manager: every temporary of a forward pass or a training
 * step lives in the request's (or batch's) manager and is freed with it.
 */
class MemoryStabilityTest {

    private static final int VOCAB = 20;

    @Test
    void decodeStepsLeaveNothingInTheModelManager() {
        for (XLstmConfig config : List.of(TestModels.neurips(2, List.of(1), VOCAB), TestModels.large(VOCAB, 4))) {
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = TestModels.randomModel(config, manager, 1, 0.2f);
                XLstmState state = null;
                NDManager stateManager = manager.newSubManager();
                int before = -1;
                for (int step = 0; step < 30; step++) {
                    NDManager next = manager.newSubManager();
                    try (NDManager scope = manager.newSubManager()) {
                        ParameterStore ps = new ParameterStore(scope, false);
                        NDArray token = scope.create(new long[] {step % VOCAB}).reshape(1, 1);
                        LmOutput out = model.forward(ps, token, state, false);
                        state = out.state().attach(next); // keep the state, free the step
                    }
                    stateManager.close();
                    stateManager = next;
                    if (step == 5) {
                        before = manager.getManagedArrays().size();
                    }
                }
                assertEquals(before, manager.getManagedArrays().size(), config.architecture() + ": arrays left in the model manager");
            }
        }
    }

    @Test
    void trainingStepsLeaveNothingInTheModelManager() throws Exception {
        long[] tokens = new long[3000];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (i * 7L) % VOCAB;
        }
        TokenWindowDataset data = TokenWindowDataset.builder().setTokens(tokens).setSequenceLength(16)
                .setSampling(4, true).build();
        TrainingSettings s = new TrainingSettings(12, 4, 1, 1e-3f, 1e-4f, 1, 0.1f, 1f, 1, 1, 0, 0, 0);
        try (TrainingSession session = TrainingSession.fresh(TestModels.neurips(2, List.of(0), VOCAB), s, null, null)) {
            NDManager manager = session.getModel().getNDManager();
            session.train(data, null, false, 4);
            int before = manager.getManagedArrays().size();
            session.train(data, null, false, 12);
            assertEquals(before, manager.getManagedArrays().size(), "arrays left in the model manager by 8 training steps");
        }
    }
}
