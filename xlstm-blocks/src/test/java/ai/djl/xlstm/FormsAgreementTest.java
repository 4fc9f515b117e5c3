package ai.djl.xlstm;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.model.LmOutput;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;

import org.junit.jupiter.api.Test;

import java.util.List;

/** The parallel, chunkwise and recurrent forms agree; long sequences stay finite. */
class FormsAgreementTest {

    private static final int VOCAB = 40;

    @Test
    void formsAgreeOn300TokensNeurips() {
        assertFormsAgree(TestModels.neurips(2, List.of(1), VOCAB));
    }

    @Test
    void formsAgreeOn300TokensLarge() {
        assertFormsAgree(TestModels.large(VOCAB, 64));
    }

    private static void assertFormsAgree(XLstmConfig config) {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(config, manager, 7, 0.3f);
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray tokens = TestModels.randomTokens(manager, 2, 300, VOCAB);
            model.setForm(MLstmForm.parallel(64));
            NDArray parallel = model.logits(ps, tokens, false);
            double scale = Math.max(1.0, parallel.abs().max().getFloat());
            for (MLstmForm b : List.of(
                    MLstmForm.chunkwise(64),
                    MLstmForm.chunkwise(37),
                    MLstmForm.inference(64),
                    MLstmForm.recurrent(64))) {
                model.setForm(b);
                NDArray other = model.forward(ps, tokens, null, false).logits();
                double diff = other.sub(parallel).abs().max().getFloat();
                System.out.printf("[forms] %s %s: max|diff| vs parallel = %.3e (max|logit| %.2f)%n",
                        config.architecture(), b, diff, scale);
                assertTrue(diff <= 1e-4 * scale, b + ": max|diff| " + diff);
            }
            // Prefill in uneven segments carrying the state equals one pass.
            model.setForm(MLstmForm.chunkwise(16));
            XLstmState state = null;
            NDList parts = new NDList();
            long[] cuts = {0, 1, 50, 51, 177, 300};
            for (int i = 0; i + 1 < cuts.length; i++) {
                LmOutput out = model.forward(
                        ps, tokens.get(new NDIndex().addAllDim().addSliceDim(cuts[i], cuts[i + 1])), state, false);
                parts.add(out.logits());
                state = out.state();
            }
            double diff = NDArrays.concat(parts, 1).sub(parallel).abs().max().getFloat();
            System.out.printf("[forms] %s segmented prefill: max|diff| = %.3e%n", config.architecture(), diff);
            assertTrue(diff <= 1e-4 * scale, "segmented prefill: max|diff| " + diff);
        }
    }

    @Test
    void chunkwiseRuns4096TokensWithoutNaN() {
        for (XLstmConfig config : List.of(TestModels.neurips(2, List.of(1), VOCAB), TestModels.large(VOCAB, 64))) {
            try (NDManager manager = NDManager.newBaseManager()) {
                XLstmLanguageModel model = TestModels.randomModel(config, manager, 3, 0.3f);
                model.setForm(MLstmForm.chunkwise(64));
                NDArray tokens = TestModels.randomTokens(manager, 1, 4096, VOCAB);
                LmOutput out = model.forward(new ParameterStore(manager, false), tokens, null, false);
                assertFalse(out.logits().isNaN().any().getBoolean(), config.architecture() + ": NaN in logits");
                assertFalse(out.logits().isInfinite().any().getBoolean(), config.architecture() + ": inf in logits");
                for (NDArray s : out.state().toNDList()) {
                    assertFalse(s.isNaN().any().getBoolean(), config.architecture() + ": NaN in state");
                }
            }
        }
    }
}
