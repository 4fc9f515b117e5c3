package ai.djl.xlstm.training;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.translate.Batchifier;
import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.io.ParameterNames;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

/** The training forward passes back-propagate correctly. */
class TrainingGradientTest {

    private static final int VOCAB = 13;

    @Test
    void parallelAndChunkwiseGradientsAgree() {
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(TestModels.neurips(2, List.of(1), VOCAB), manager, 4, 0.4f);
            NDArray tokens = TestModels.randomTokens(manager, 3, 19, VOCAB);
            NDArray labels = TestModels.randomTokens(manager, 3, 19, VOCAB);
            Map<String, float[]> parallel = gradients(model, tokens, labels, MLstmForm.parallel(8));
            Map<String, float[]> chunkwise = gradients(model, tokens, labels, MLstmForm.chunkwise(8));
            for (String name : parallel.keySet()) {
                float[] a = parallel.get(name);
                float[] b = chunkwise.get(name);
                for (int i = 0; i < a.length; i++) {
                    assertTrue(Math.abs(a[i] - b[i]) <= 1e-4 + 1e-3 * Math.abs(a[i]),
                            name + "[" + i + "]: parallel " + a[i] + " vs chunkwise " + b[i]);
                }
            }
            System.out.printf("[grad] parallel vs chunkwise: %d parameters agree%n", parallel.size());
        }
    }

    private static Map<String, float[]> gradients(XLstmLanguageModel model, NDArray tokens, NDArray labels, MLstmForm backend) {
        model.setForm(backend);
        Map<String, Parameter> params = ParameterNames.of(model);
        for (Parameter p : params.values()) {
            if (p.getArray().hasGradient()) {
                NDArray g = p.getArray().getGradient();
                g.subi(g);
            }
        }
        ParameterStore ps = new ParameterStore(tokens.getManager(), false);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray loss = new CausalLmLoss().evaluate(new NDList(labels), new NDList(model.logits(ps, tokens, true)));
            gc.backward(loss);
        }
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        params.forEach((k, p) -> out.put(k, p.getArray().getGradient().toFloatArray()));
        return out;
    }

    @Test
    void trainerStepGradientsMatchFiniteDifferences() {
        try (Model djl = Model.newInstance("xlstm")) {
            NDManager manager = djl.getNDManager();
            XLstmLanguageModel model = TestModels.randomModel(TestModels.neurips(2, List.of(0), VOCAB), manager, 6, 0.4f);
            djl.setBlock(model);
            NDArray tokens = TestModels.randomTokens(manager, 2, 9, VOCAB);
            NDArray labels = TestModels.randomTokens(manager, 2, 9, VOCAB);
            DefaultTrainingConfig config = new DefaultTrainingConfig(new CausalLmLoss());
            try (Trainer trainer = djl.newTrainer(config)) {
                Batch batch = new Batch(manager, new NDList(tokens), new NDList(labels), 2,
                        Batchifier.STACK, Batchifier.STACK, 0, 1);
                EasyTrain.trainBatch(trainer, batch); // forward + backward, as in training
                Map<String, Parameter> params = ParameterNames.of(model);
                ParameterStore ps = new ParameterStore(manager, false);
                for (String name : List.of("xlstm_block_stack.blocks.0.xlstm.slstm_cell._recurrent_kernel_",
                        "xlstm_block_stack.blocks.1.xlstm.mlstm_cell.fgate.weight", "lm_head.weight")) {
                    NDArray value = params.get(name).getArray();
                    float[] grad = value.getGradient().toFloatArray();
                    for (int idx : new int[] {1, grad.length / 2, grad.length - 2}) {
                        float fd = TestModels.finiteDifference(value, idx, 1e-2f, () -> new CausalLmLoss()
                                .evaluate(new NDList(labels), new NDList(model.logits(ps, tokens, false))).getFloat());
                        System.out.printf("[grad] trainer %s[%d]: backprop %.6f finite-diff %.6f%n", name, idx, grad[idx], fd);
                        assertTrue(Math.abs(fd - grad[idx]) <= 2e-3 + 2e-2 * Math.abs(fd),
                                name + "[" + idx + "]: backprop " + grad[idx] + " vs finite difference " + fd);
                    }
                }
            }
        }
    }
}
