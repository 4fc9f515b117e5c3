package ai.djl.xlstm.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.function.UnaryOperator;

/** The settings' builder: its defaults, and a refusal naming each bad setting and its value. */
class TrainingSettingsTest {

    @Test
    void builderDefaultsAreUpstreamsForSmallModels() {
        TrainingSettings s = TrainingSettings.builder().steps(500).build();
        assertEquals(new TrainingSettings(500, 8, 1, 1e-3f, 1e-3f / 10, 50, 0.1f, 1f, 0, 5, 0, 0, 0), s);
        assertEquals(1, TrainingSettings.builder().steps(3).build().warmupSteps(), "at least one warm-up update");
        assertEquals(10, TrainingSettings.builder().steps(100_000).build().logEvery(), "a row at least every 10 updates");
        TrainingSettings custom = TrainingSettings.builder().steps(40).batchSize(2).accumulationSteps(3).learningRate(3e-3f)
                .minLearningRate(0).warmupSteps(0).weightDecay(0).maxGradNorm(0).seed(-7).logEvery(4).validateEvery(10)
                .validationBatches(5).checkpointEvery(20).build();
        assertEquals(new TrainingSettings(40, 2, 3, 3e-3f, 0f, 0, 0f, 0f, -7, 4, 10, 5, 20), custom);
        assertEquals(custom, custom.toBuilder().build());
        assertEquals(41, custom.withSteps(41).steps());
        assertEquals(custom.learningRate(), custom.withSteps(41).learningRate());
    }

    @Test
    void eachBadSettingIsRefusedByName() {
        Map<String, UnaryOperator<TrainingSettings.Builder>> bad = new java.util.LinkedHashMap<>();
        bad.put("steps must be >= 1, got -1", b -> b.steps(-1));
        bad.put("batchSize must be >= 1, got 0", b -> b.batchSize(0));
        bad.put("accumulationSteps must be >= 1, got 0", b -> b.accumulationSteps(0));
        bad.put("learningRate must be > 0 and finite, got NaN", b -> b.learningRate(Float.NaN));
        bad.put("learningRate must be > 0 and finite, got 0.0", b -> b.learningRate(0));
        bad.put("minLearningRate must be in [0, learningRate = 0.001], got 0.01", b -> b.minLearningRate(1e-2f));
        bad.put("warmupSteps must be >= 0, got -2", b -> b.warmupSteps(-2));
        bad.put("weightDecay must be >= 0 and finite, got -0.1", b -> b.weightDecay(-0.1f));
        bad.put("maxGradNorm must be >= 0 and finite (0 is off), got Infinity", b -> b.maxGradNorm(Float.POSITIVE_INFINITY));
        bad.put("logEvery must be >= 1, got 0", b -> b.logEvery(0));
        bad.put("validateEvery must be >= 0 (0: only at the end), got -1", b -> b.validateEvery(-1));
        bad.put("validationBatches must be >= 0 (0: all), got -3", b -> b.validationBatches(-3));
        bad.put("checkpointEvery must be >= 0 (0: only at the end), got -4", b -> b.checkpointEvery(-4));
        for (Map.Entry<String, UnaryOperator<TrainingSettings.Builder>> e : bad.entrySet()) {
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                    () -> e.getValue().apply(TrainingSettings.builder().steps(10)).build(), e.getKey());
            assertEquals(e.getKey(), x.getMessage());
        }
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> TrainingSettings.builder().build());
        assertTrue(missing.getMessage().contains("steps must be >= 1, got 0") && missing.getMessage().contains("steps(n)"),
                missing.getMessage());
    }
}
