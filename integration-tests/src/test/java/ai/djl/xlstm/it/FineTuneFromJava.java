package ai.djl.xlstm.it;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.listener.TrainingListener;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.training.CausalLmLoss;
import ai.djl.xlstm.training.Perplexity;
import ai.djl.xlstm.training.TokenWindowDataset;
import ai.djl.xlstm.zoo.HuggingFaceTextCodec;
import ai.djl.xlstm.zoo.XLstmTranslatorFactory;

import java.nio.file.Path;

public class FineTuneFromJava {

    public static void main(String[] args) throws Exception {
        System.out.println(fineTune(Path.of(args[0]), Path.of(args[1]), 2));
    }

    /** Fine-tunes the bundled tiny model on a text, saves it into {@code out}, reloads it as text. */
    public static String fineTune(Path text, Path out, int epochs) throws Exception {
        Criteria<NDList, NDList> criteria = Criteria.builder()
                .setTypes(NDList.class, NDList.class) // token ids [B, T] in, logits [B, T, V] out
                .optGroupId("ai.djl.xlstm")
                .optArtifactId("xlstm-austen-tiny")
                .build();
        try (ZooModel<NDList, NDList> model = criteria.loadModel();
                HuggingFaceTextCodec tokenizer =
                        HuggingFaceTextCodec.load(model.getModelPath().resolve("tokenizer.json"))) {
            // windows of 64 tokens (labels: the inputs shifted by one); the text's last 10% validates
            long[][] split = TokenWindowDataset.split(text, tokenizer, 0.1);
            TokenWindowDataset train = TokenWindowDataset.builder()
                    .setTokens(split[0]).setSequenceLength(64).setSampling(8, true).build();
            TokenWindowDataset validation = TokenWindowDataset.builder()
                    .setTokens(split[1]).setSequenceLength(64).setSampling(8, false).build();

            DefaultTrainingConfig config = new DefaultTrainingConfig(new CausalLmLoss())
                    .addEvaluator(new Perplexity())
                    .optOptimizer(Optimizer.adamW().optLearningRateTracker(Tracker.fixed(1e-3f)).build())
                    .addTrainingListeners(TrainingListener.Defaults.logging());
            try (Trainer trainer = model.newTrainer(config)) {
                EasyTrain.fit(trainer, epochs, train, validation);
                System.out.println(trainer.getTrainingResult()); // loss and perplexity, train and validation
            }
            // one call: weights, config.json, tokenizer.json, generation_config.json, serving.properties
            UpstreamCheckpoint.save(model, out);
        }

        Criteria<String, String> reload = Criteria.builder()
                .setTypes(String.class, String.class)
                .optModelPath(out)
                .optTranslatorFactory(new XLstmTranslatorFactory())
                .optArgument("max_new_tokens", 30)
                .build();
        try (ZooModel<String, String> model = reload.loadModel();
                Predictor<String, String> predictor = model.newPredictor()) {
            return predictor.predict("It is a truth universally acknowledged");
        }
    }
}
