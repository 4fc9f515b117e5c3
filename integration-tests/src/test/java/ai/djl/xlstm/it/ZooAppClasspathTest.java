package ai.djl.xlstm.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A DJL application that depends only on {@code xlstm-zoo} plus one native jar runs the README's
 * first code example, verbatim, in a fresh JVM: offline, with an empty DJL cache, on exactly that
 * classpath (no logging backend, no test libraries), and prints a completion.
 */
class ZooAppClasspathTest {

    @Test
    void readmeCriteriaExampleRunsOnTheZooClasspathWithAnEmptyCache(@TempDir Path tmp) throws Exception {
        String readme = Files.readString(Path.of(System.getProperty("xlstm.readme")), StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(), "README has a Java example");
        String example = m.group(1);
        assertTrue(example.contains("Criteria") && example.contains("Predictor"), "the first example uses Criteria:\n" + example);
        Matcher cls = Pattern.compile("public class (\\w+)").matcher(example);
        assertTrue(cls.find(), "the first example is a complete class");
        Path source = tmp.resolve(cls.group(1) + ".java");
        Files.writeString(source, example, StandardCharsets.UTF_8);

        String appClasspath = Files.readString(Path.of(System.getProperty("xlstm.app.classpath"))).trim();
        String nativeJar = Files.readString(Path.of(System.getProperty("xlstm.native.classpath"))).trim();
        for (String entry : appClasspath.split(File.pathSeparator)) {
            String name = Path.of(entry).getFileName().toString();
            assertFalse(name.startsWith("pytorch-native") || name.startsWith("log4j") || name.startsWith("logback")
                    || name.startsWith("junit") || name.startsWith("xchart") || name.startsWith("picocli"),
                    "the zoo's runtime classpath must not carry " + name);
        }
        Path cache = Files.createDirectories(tmp.resolve("djl-cache"));
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true",
                "-cp", appClasspath + File.pathSeparator + nativeJar,
                source.toString()));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("DJL_CACHE_DIR", cache.toString());
        pb.environment().remove("ENGINE_CACHE_DIR");
        long start = System.nanoTime();
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the example finished");
        System.out.printf("[zoo-app] %d classpath entries + %s, %.1f s:%n%s%n",
                appClasspath.split(File.pathSeparator).length, Path.of(nativeJar).getFileName(),
                (System.nanoTime() - start) / 1e9, output);
        assertEquals(0, p.exitValue(), output);
        String completion = output.lines().filter(l -> !l.startsWith("SLF4J")).reduce("", (a, b) -> a + b);
        assertTrue(completion.replaceAll("\\s", "").length() >= 20, "a completion was printed: " + output);
    }
}
