package ai.djl.xlstm.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.repository.zoo.ZooModel;
import ai.djl.xlstm.io.SafeTensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The README's "Training from Java" example is {@link FineTuneFromJava}, character for character
 * (without the package line), and it runs: Criteria, {@code newTrainer} with {@code CausalLmLoss},
 * {@code EasyTrain.fit} on token windows of a text, the one-call save, and the saved folder
 * reloaded through Criteria as {@code String -> String}.
 */
class TrainingFromJavaTest {

    private static final Path SOURCE = Path.of("src/test/java/ai/djl/xlstm/it/FineTuneFromJava.java");

    /** The first Java block after the heading {@code ## Training from Java}. */
    static String readmeExample() throws Exception {
        String readme = Files.readString(Path.of(System.getProperty("xlstm.readme")), StandardCharsets.UTF_8);
        int section = readme.indexOf("\n## Training from Java\n");
        assertTrue(section >= 0, "README has the section Training from Java");
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(section), "the section has a Java example");
        int next = readme.indexOf("\n## ", section + 1);
        assertTrue(next < 0 || m.start() < next, "the Java example is in the section");
        return m.group(1);
    }

    @Test
    void theReadmeExampleIsTheClassThisTestRuns() throws Exception {
        String source = Files.readString(SOURCE, StandardCharsets.UTF_8);
        String withoutPackage = source.replaceFirst("\\Apackage ai\\.djl\\.xlstm\\.it;\\n\\n", "");
        assertFalse(withoutPackage.equals(source), "the source starts with its package line");
        String example = readmeExample();
        if (!example.equals(withoutPackage)) {
            List<String> a = example.lines().toList();
            List<String> b = withoutPackage.lines().toList();
            int i = 0;
            while (i < Math.min(a.size(), b.size()) && a.get(i).equals(b.get(i))) {
                i++;
            }
            throw new AssertionError("README.md's Training from Java example differs from " + SOURCE + " (without its"
                    + " package line) at line " + (i + 1) + ":\n  README: " + (i < a.size() ? a.get(i) : "<end>")
                    + "\n  source: " + (i < b.size() ? b.get(i) : "<end>"));
        }
    }

    @Test
    void theReadmeExampleFineTunesSavesAndReloadsAsText(@TempDir Path tmp) throws Exception {
        String book = Files.readString(Path.of("../xlstm-examples/data/corpus/heldout/persuasion.txt"), StandardCharsets.UTF_8);
        Path text = Files.writeString(tmp.resolve("persuasion-start.txt"), book.substring(0, 8_000), StandardCharsets.UTF_8);
        Path out = tmp.resolve("fine-tuned");
        long start = System.nanoTime();
        String completion = FineTuneFromJava.fineTune(text, out, 2);
        System.out.printf("[training-from-java] %.1f s: %s%n", (System.nanoTime() - start) / 1e9, completion);
        assertTrue(completion.strip().length() >= 10, "a completion: '" + completion + "'");
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "generation_config.json",
                "serving.properties")) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f + " in the saved folder");
        }
        Path bundled;
        try (ZooModel<?, ?> model = ai.djl.repository.zoo.Criteria.builder()
                .setTypes(ai.djl.ndarray.NDList.class, ai.djl.ndarray.NDList.class).optGroupId("ai.djl.xlstm")
                .optArtifactId("xlstm-austen-tiny").build().loadModel()) {
            bundled = model.getModelPath();
        }
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
            Map<String, ai.djl.ndarray.NDArray> before = SafeTensors.load(bundled.resolve("model.safetensors"), m);
            Map<String, ai.djl.ndarray.NDArray> after = SafeTensors.load(out.resolve("model.safetensors"), m);
            assertEquals(before.keySet(), after.keySet());
            String name = "token_embedding.weight";
            assertFalse(Arrays.equals(before.get(name).toFloatArray(), after.get(name).toFloatArray()),
                    "EasyTrain.fit changed the weights the folder holds");
        }
    }
}
