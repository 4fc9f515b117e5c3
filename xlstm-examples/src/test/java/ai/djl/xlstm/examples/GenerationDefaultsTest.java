package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

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

    private static long[] cliTokens(List<String> args) {
        String[] r = CliRun.run(args);
        assertEquals("0", r[0], r[2]);
        JsonObject cli = JsonParser.parseString(r[1].strip().lines().reduce((a, b) -> b).orElseThrow()).getAsJsonObject();
        JsonArray ids = cli.getAsJsonArray("tokens");
        long[] tokens = new long[ids.size()];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = ids.get(i).getAsLong();
        }
        return tokens;
    }

    private static long[] criteriaTokens(Map<String, ?> arguments, String prompt) throws Exception {
        Criteria.Builder<String, GenerationResult> b = Criteria.builder().setTypes(String.class, GenerationResult.class)
                .optGroupId("ai.djl.xlstm").optArtifactId("xlstm-austen-tiny");
        arguments.forEach(b::optArgument);
        try (ZooModel<String, GenerationResult> model = b.build().loadModel();
                Predictor<String, GenerationResult> p = model.newPredictor()) {
            return p.predict(prompt).tokens();
        }
    }

    /**
     * Every generation option is the Criteria argument of its Hugging Face name: the CLI collects
     * the options given under those names and resolves them as Criteria do, so both generate the
     * same tokens.
     */
    @Test
    void cliOptionsResolveAsTheCriteriaArgumentsOfTheSameNames() throws Exception {
        String[] options = {"--temperature", "0.5", "--top-k", "20", "--top-p", "0.9", "--min-p", "0.05",
            "--repetition-penalty", "1.3", "-n", "9", "--seed", "4", "--stop", "xyz"};
        GenerationOptions parsed = new GenerationOptions();
        new CommandLine(parsed).parseArgs(options);
        Map<String, Object> hf = new LinkedHashMap<>();
        hf.put("max_new_tokens", 9);
        hf.put("temperature", 0.5f);
        hf.put("top_k", 20);
        hf.put("top_p", 0.9f);
        hf.put("min_p", 0.05f);
        hf.put("repetition_penalty", 1.3f);
        hf.put("seed", 4L);
        hf.put("stop", List.of("xyz"));
        assertEquals(hf, parsed.arguments(null, null, List.of()), "the options under their Hugging Face names");

        List<String> cli = new java.util.ArrayList<>(List.of("generate", "--model", "xlstm-austen-tiny", "--prompt",
                "It is", "--json"));
        cli.addAll(List.of(options));
        assertArrayEquals(criteriaTokens(hf, "It is"), cliTokens(cli));

        // beam search: --num-beams over a folder that samples is do_sample=false
        assertArrayEquals(criteriaTokens(Map.of("num_beams", 2, "do_sample", false, "max_new_tokens", 6), "The"),
                cliTokens(List.of("generate", "--model", "xlstm-austen-tiny", "--prompt", "The", "--num-beams", "2",
                        "-n", "6", "--json")));
    }

    /**
     * Without a generation_config.json the CLI's defaults are the ones its help names: {@link
     * GenerationConfig#builder()}'s, except that it samples (temperature 0.8, top-p 0.95).
     */
    @Test
    void withoutGenerationConfigTheCliUsesTheDefaultsItsHelpNames(@TempDir Path empty) throws Exception {
        String help = CliRun.run(List.of("generate", "--help"))[1].replaceAll("\\s+", " ");
        for (String named : List.of("else 128)", "else 0.8)", "else 0.95)", "else 0)", "else 1.0)", "default: 512)",
                "else 1)")) {
            assertTrue(help.contains(named), named + " in\n" + help);
        }
        GenerationOptions none = new GenerationOptions();
        new CommandLine(none).parseArgs("--seed", "1");
        GenerationConfig c = none.toConfig(empty, null, null, 7L, List.of());
        GenerationConfig expected = GenerationConfig.builder().temperature(0.8f).topP(0.95f).seed(1)
                .eosTokenIds(Set.of(7L)).bosTokenId(7L).build();
        assertEquals(expected, c);
        assertEquals(128, c.maxNewTokens());
        assertEquals(512, c.prefillSegment());
        assertEquals(1f, c.repetitionPenalty());
        assertEquals(1, c.numBeams());

        GenerationOptions beams = new GenerationOptions();
        new CommandLine(beams).parseArgs("--seed", "1");
        GenerationConfig b = beams.toConfig(empty, 3, null, 7L, List.of());
        assertEquals(expected.toBuilder().numBeams(3).temperature(0).topP(1).build(), b, "beam search turns sampling off");
    }
}
