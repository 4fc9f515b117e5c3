package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.xlstm.generate.GenerationResult;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.Test;

import java.util.List;

/** The CLI and the zoo's translator take the same defaults from the model's generation_config.json. */
class GenerationDefaultsTest {

    @Test
    void generateWithDefaultsEqualsTheZooTranslatorWithTheSameSeed() throws Exception {
        String[] r = CliRun.run(List.of("generate", "--model", "xlstm-austen-tiny", "--prompt", "It is", "--seed", "3",
                "--json"));
        assertEquals("0", r[0], r[2]);
        JsonObject cli = JsonParser.parseString(r[1].strip().lines().reduce((a, b) -> b).orElseThrow()).getAsJsonObject();
        JsonArray ids = cli.getAsJsonArray("tokens");
        long[] cliTokens = new long[ids.size()];
        for (int i = 0; i < cliTokens.length; i++) {
            cliTokens[i] = ids.get(i).getAsLong();
        }
        try (ZooModel<String, GenerationResult> model = Criteria.builder().setTypes(String.class, GenerationResult.class)
                .optGroupId("ai.djl.xlstm").optArtifactId("xlstm-austen-tiny").optArgument("seed", 3)
                .build().loadModel();
                Predictor<String, GenerationResult> p = model.newPredictor()) {
            GenerationResult zoo = p.predict("It is");
            assertArrayEquals(zoo.tokens(), cliTokens, "same settings (generation_config.json) and seed, same tokens");
            assertEquals(zoo.text(), cli.get("text").getAsString());
        }
    }
}
