package ai.djl.xlstm.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.io.ParameterNames;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.LongStream;

/** Hostile and mismatched session files, and the argument checks of the generation API. */
class GenerationSessionTest {

    private static final int VOCAB = 260;
    private static final long[] PROMPT = {72, 101, 108, 108, 111};
    private static NDManager manager;
    private static XLstmLanguageModel model;

    @TempDir Path dir;

    @BeforeAll
    static void createModel() {
        manager = NDManager.newBaseManager();
        model = TestModels.randomModel(TestModels.neurips(2, List.of(1), VOCAB), manager, 3, 0.3f);
    }

    @AfterAll
    static void closeManager() {
        manager.close();
    }

    private static GenerationConfig greedy(int tokens) {
        return GenerationConfig.builder().maxNewTokens(tokens).build();
    }

    /** Saves a session of {@code generator} after the prompt and 3 generated tokens. */
    private Path saveSession(Generator generator, String name) throws IOException {
        Path file = dir.resolve(name);
        try (GenerationSession s = generator.newSession()) {
            generator.generate(s, PROMPT, greedy(3), null);
            s.save(file);
        }
        return file;
    }

    @Test
    void aFlippedBitInTheStateIsReportedAsCorruption() throws IOException {
        Generator g = new Generator(model, manager, null);
        Path file = saveSession(g, "flipped.session");
        SafeTensors.TensorInfo state = SafeTensors.readHeader(file).get("state.1");
        byte[] bytes = Files.readAllBytes(file);
        long dataStart = 8 + ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        // the lowest mantissa bit of the second float: the value stays finite and plausible
        bytes[(int) (dataStart + state.begin() + 4)] ^= 1;
        Files.write(file, bytes);
        assertMessage(() -> g.loadSession(file), file + " is corrupted");
    }

    @Test
    void anUntouchedFileLoadsAndContinuesExactly() throws IOException {
        Generator g = new Generator(model, manager, null);
        long[] once = g.generate(PROMPT, greedy(6)).tokens();
        Path file = dir.resolve("whole.session");
        long[] first;
        try (GenerationSession s = g.newSession()) {
            first = g.generate(s, PROMPT, greedy(3), null).tokens();
            s.save(file);
        }
        try (GenerationSession s = g.loadSession(file)) {
            long[] second = g.generate(s, new long[0], greedy(3), null).tokens();
            assertArrayEquals(once, LongStream.concat(LongStream.of(first), LongStream.of(second)).toArray());
        }
    }

    @Test
    void aNonFiniteStateIsRefusedOnLoadAndOnSave() throws IOException {
        Generator g = new Generator(model, manager, null);
        Path file = saveSession(g, "nan.session");
        // a file whose checksum is right but whose state holds NaN (as saving a diverged state would give)
        rewrite(file, tensors -> tensors.put("state.2", poison(tensors.get("state.2"), Float.NaN)));
        assertMessage(() -> g.loadSession(file), file + ": tensor state.2");
        assertMessage(() -> g.loadSession(file), "holds NaN at flat index 1");
        rewrite(saveSession(g, "inf.session"),
                tensors -> tensors.put("logits", poison(tensors.get("logits"), Float.NEGATIVE_INFINITY)));
        assertMessage(() -> g.loadSession(dir.resolve("inf.session")), "tensor logits (260) holds -Infinity");

        try (GenerationSession s = g.newSession()) {
            g.generate(s, PROMPT, greedy(2), null);
            s.advance(s.state().map(a -> a.mul(Float.NaN)), s.nextLogits(), new long[0]);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.save(dir.resolve("x.session")));
            assertTrue(e.getMessage().contains("cannot save the session to") && e.getMessage().contains("state.0"),
                    e.getMessage());
        }
    }

    @Test
    void aFileWithoutChecksumOrOfTheFirstVersionIsRefused() throws IOException {
        Generator g = new Generator(model, manager, null);
        Path noChecksum = saveSession(g, "no-checksum.session");
        rewriteMetadata(noChecksum, metadata -> metadata.remove("checksum"));
        assertMessage(() -> g.loadSession(noChecksum), noChecksum + " is corrupted: its metadata has no checksum");
        Path v1 = saveSession(g, "v1.session");
        rewriteMetadata(v1, metadata -> metadata.put("version", "1"));
        assertMessage(() -> g.loadSession(v1), "is a session file of version 1; this library reads version 2");
    }

    @Test
    void aSessionIsRefusedByTheSameConfigWithOtherWeights() throws IOException {
        Generator g = new Generator(model, manager, null);
        Path file = saveSession(g, "weights.session");
        try (NDManager m = NDManager.newBaseManager()) {
            XLstmLanguageModel other = TestModels.randomModel(model.getConfig(), m, 4, 0.3f);
            assertMessage(() -> new Generator(other, m, null).loadSession(file),
                    "the session in " + file + " was saved from a model with other weights");
            assertMessage(() -> GenerationSession.load(file, other, m), "saved from a model with other weights");

            XLstmLanguageModel copy = TestModels.randomModel(model.getConfig(), m, 4, 0.3f);
            copyWeights(model, copy, m);
            Generator same = new Generator(copy, m, null);
            try (GenerationSession s = same.loadSession(file)) {
                long[] continued = same.generate(s, new long[0], greedy(3), null).tokens();
                try (GenerationSession t = g.loadSession(file)) {
                    assertArrayEquals(g.generate(t, new long[0], greedy(3), null).tokens(), continued);
                }
            }
        }
    }

    @Test
    void aGeneratorHashesTheWeightsOnceAndANewOneSeesChangedWeights() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            XLstmLanguageModel trained = TestModels.randomModel(model.getConfig(), m, 5, 0.3f);
            Generator before = new Generator(trained, m, null);
            Path file = saveSession(before, "before.session");
            // "train" one more step: every weight moves a little
            for (Parameter p : ParameterNames.of(trained).values()) {
                NDArray moved = p.getArray().add(1e-3f);
                p.getArray().intern(moved);
            }
            // the old generator keeps the hash it took (documented): it still accepts its session
            before.loadSession(file).close();
            // a generator created after the change hashes the new weights and refuses the old state
            assertMessage(() -> new Generator(trained, m, null).loadSession(file),
                    "saved from a model with other weights");
        }
    }

    @Test
    void nullArgumentsAreNamed() {
        Generator g = new Generator(model, manager, new ByteCodec(VOCAB));
        assertNamed(NullPointerException.class, "model", () -> new Generator(null, manager, null));
        assertNamed(NullPointerException.class, "manager", () -> new Generator(model, null, null));
        assertNamed(NullPointerException.class, "config", () -> g.generate(PROMPT, null));
        assertNamed(NullPointerException.class, "config", () -> g.generate("Hi", null));
        assertNamed(NullPointerException.class, "prompt", () -> g.generate((long[]) null, greedy(1)));
        assertNamed(IllegalArgumentException.class, "prompt", () -> g.generate((String) null, greedy(1)));
        assertNamed(NullPointerException.class, "session", () -> g.generate(null, PROMPT, greedy(1), null));
        assertNamed(NullPointerException.class, "session", () -> g.stream(null, "Hi", greedy(1)));
        assertNamed(NullPointerException.class, "file", () -> g.loadSession(null));
        assertNamed(NullPointerException.class, "prompts", () -> g.generateBatchIds(null, greedy(1), null));
        assertNamed(IllegalArgumentException.class, "prompts[1] is null",
                () -> g.generateBatchIds(Arrays.asList(PROMPT, null), greedy(1), null));
        assertNamed(IllegalArgumentException.class, "prompts[2] is null",
                () -> g.generateBatch(Arrays.asList("a", "b", null), greedy(1), null));
        assertNamed(IllegalArgumentException.class, "stopStrings[2] is null",
                () -> GenerationConfig.builder().stopStrings(Arrays.asList("a", "b", null)).build());
        assertNamed(IllegalArgumentException.class, "stopStrings[1] is empty",
                () -> GenerationConfig.builder().stopStrings(List.of("a", "")).build());
        assertNamed(IllegalArgumentException.class, "eosTokenIds holds a null id",
                () -> GenerationConfig.builder().eosTokenIds(new HashSet<>(Arrays.asList(1L, null))).build());
        assertNamed(IllegalArgumentException.class, "stopStrings[0] is null",
                () -> new StreamingDecoder(new ByteCodec(VOCAB), new long[0], Arrays.asList((String) null)));
        assertNamed(NullPointerException.class, "file", () -> {
            try (GenerationSession s = g.newSession()) {
                s.save(null);
            }
        });
        // null where it means "none" stays allowed
        g.generate(PROMPT, GenerationConfig.builder().maxNewTokens(1).stopStrings(null).eosTokenIds(null).build(), null);
    }

    /** A copy of {@code array} with element 1 set to {@code value}. */
    private static NDArray poison(NDArray array, float value) {
        float[] values = array.toFloatArray();
        values[1] = value;
        return array.getManager().create(values, array.getShape());
    }

    /** Rewrites a session file's tensors with a valid checksum, as a writer of bad states would. */
    private static void rewrite(Path file, Consumer<Map<String, NDArray>> change) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>(SafeTensors.load(file, m));
            change.accept(tensors);
            Map<String, String> metadata = new LinkedHashMap<>(SafeTensors.readMetadata(file));
            metadata.put("checksum", GenerationSession.checksum(tensors));
            SafeTensors.save(file, tensors, metadata);
        }
    }

    private static void rewriteMetadata(Path file, Consumer<Map<String, String>> change) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, String> metadata = new LinkedHashMap<>(SafeTensors.readMetadata(file));
            change.accept(metadata);
            SafeTensors.save(file, SafeTensors.load(file, m), metadata);
        }
    }

    private static void copyWeights(XLstmLanguageModel from, XLstmLanguageModel to, NDManager m) {
        Map<String, Parameter> target = ParameterNames.of(to);
        ParameterNames.of(from).forEach((name, p) -> {
            NDArray source = p.getArray();
            // duplicate(): create() only borrows the Java array, which a GC may free and reuse
            target.get(name).getArray().intern(m.create(source.toFloatArray(), source.getShape()).duplicate());
        });
    }

    private static void assertMessage(Executable call, String expected) {
        assertNamed(IllegalArgumentException.class, expected, call);
    }

    private static void assertNamed(Class<? extends RuntimeException> type, String expected, Executable call) {
        RuntimeException e = assertThrows(type, call);
        assertTrue(e.getMessage() != null && e.getMessage().contains(expected),
                "message should contain '" + expected + "': " + e.getMessage());
    }
}
