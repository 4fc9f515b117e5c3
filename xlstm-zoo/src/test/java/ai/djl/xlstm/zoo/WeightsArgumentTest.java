package ai.djl.xlstm.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.types.DataType;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;

import java.util.Map;

/**
 * The Criteria argument {@code weights}: float16 weights through the zoo generate the same greedy
 * text as float32 on the tiny model, and bfloat16 or an unknown type is refused with a message
 * before the engine sees it.
 */
class WeightsArgumentTest {

    private static Criteria<String, String> criteria(String weights) {
        Criteria.Builder<String, String> b = Criteria.builder().setTypes(String.class, String.class)
                .optGroupId(XLstmModelZoo.GROUP_ID).optArtifactId("xlstm-austen-tiny")
                .optArgument("max_new_tokens", 12).optArgument("do_sample", false);
        if (weights != null) {
            b.optArgument("weights", weights);
        }
        return b.build();
    }

    @Test
    void float16WeightsLoadThroughTheZooAndGenerate() throws Exception {
        String f32;
        try (ZooModel<String, String> model = criteria(null).loadModel(); Predictor<String, String> p = model.newPredictor()) {
            assertEquals(DataType.FLOAT32, ((XLstmLanguageModel) model.getBlock()).getWeightType());
            f32 = p.predict(ZooModelTest.PROMPT);
        }
        try (ZooModel<String, String> model = criteria("float16").loadModel(); Predictor<String, String> p = model.newPredictor()) {
            assertEquals(DataType.FLOAT16, ((XLstmLanguageModel) model.getBlock()).getWeightType());
            String f16 = p.predict(ZooModelTest.PROMPT);
            System.out.println("[weights] float32: " + f32 + "\n[weights] float16: " + f16);
            assertTrue(!f16.isBlank(), "no text");
            assertEquals(f32, f16, "12 greedy tokens of the tiny model, float16 vs float32 weights");
        }
    }

    @Test
    void bfloat16AndUnknownTypesAreRefused() {
        Exception bf16 = assertThrows(Exception.class, () -> criteria("bfloat16").loadModel());
        assertTrue(causes(bf16).contains("aborts the JVM"), causes(bf16));
        Exception int8 = assertThrows(Exception.class, () -> criteria("int8").loadModel());
        assertTrue(causes(int8).contains("must be float32 or float16, got 'int8'"), causes(int8));
        assertEquals(DataType.FLOAT16, XLstmBlockFactory.weightType(Map.of("weights", "F16")));
        assertEquals(DataType.FLOAT32, XLstmBlockFactory.weightType(Map.of()));
    }

    private static String causes(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            b.append(c.getMessage()).append(" | ");
        }
        return b.toString();
    }
}
