package ai.djl.xlstm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.io.ParameterNames;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

/**
 * Gradients flow through every form: back-propagated gradients match central finite differences
 * on tiny sLSTM and mLSTM models.
 */
class GradientCheckTest {

    private static final int VOCAB = 11;
    private static final float H = 1e-2f;

    @Test
    void sLstmGradientsMatchFiniteDifferences() {
        check(TestModels.neurips(1, List.of(0), VOCAB), MLstmForm.parallel(4),
                List.of("xlstm_block_stack.blocks.0.xlstm.slstm_cell._recurrent_kernel_",
                        "xlstm_block_stack.blocks.0.xlstm.slstm_cell._bias_",
                        "xlstm_block_stack.blocks.0.xlstm.igate.weight",
                        "xlstm_block_stack.blocks.0.xlstm.conv1d.conv.weight"));
    }

    @Test
    void mLstmGradientsMatchFiniteDifferencesInEveryForm() {
        XLstmConfig config = TestModels.neurips(1, List.of(), VOCAB);
        List<String> names = List.of(
                "xlstm_block_stack.blocks.0.xlstm.mlstm_cell.igate.weight",
                "xlstm_block_stack.blocks.0.xlstm.mlstm_cell.fgate.bias",
                "xlstm_block_stack.blocks.0.xlstm.q_proj.weight",
                "xlstm_block_stack.blocks.0.xlstm.learnable_skip");
        check(config, MLstmForm.parallel(4), names);
        check(config, MLstmForm.chunkwise(4), names);
        check(config, MLstmForm.recurrent(4), names);
    }

    @Test
    void largeGradientsMatchFiniteDifferences() {
        check(TestModels.large(VOCAB, 4), MLstmForm.inference(4),
                List.of("backbone.blocks.0.mlstm_layer.igate_preact.weight",
                        "backbone.blocks.1.mlstm_layer.k.weight",
                        "backbone.blocks.0.ffn.proj_up_gate.weight"));
    }

    private static void check(XLstmConfig config, MLstmForm backend, List<String> names) {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(config, manager, 11, 0.5f);
            model.setForm(backend);
            NDArray tokens = TestModels.randomTokens(manager, 2, 10, VOCAB); // 10 = 2 chunks + tail
            Engine.getInstance().setRandomSeed(5);
            NDArray weights = manager.randomNormal(new Shape(2, 10, VOCAB), DataType.FLOAT32);
            ParameterStore ps = new ParameterStore(manager, false);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray loss = model.logits(ps, tokens, true).mul(weights).sum();
                gc.backward(loss);
            }
            Map<String, Parameter> params = ParameterNames.of(model);
            for (String name : names) {
                NDArray value = params.get(name).getArray();
                float[] grad = value.getGradient().toFloatArray();
                int n = grad.length;
                for (int idx : new int[] {0, n / 3, n - 1}) {
                    float fd = TestModels.finiteDifference(value, idx, H,
                            () -> model.logits(ps, tokens, false).mul(weights).sum().getFloat());
                    double err = Math.abs(fd - grad[idx]);
                    System.out.printf("[grad] %s %s[%d]: backprop %.5f finite-diff %.5f%n",
                            backend.kind(), name, idx, grad[idx], fd);
                    assertTrue(err <= 2e-2 * Math.max(1.0, Math.abs(fd)),
                            backend.kind() + " " + name + "[" + idx + "]: backprop " + grad[idx] + " vs finite difference " + fd);
                }
            }
        }
    }
}
