package ai.djl.xlstm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationSession;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;

/**
 * Seeded random damage to the files a user keeps (a checkpoint folder, a generation session):
 * every load either refuses with an {@link IOException} or {@link IllegalArgumentException} that
 * says what is wrong, or gives exactly what was saved (a changed value in the plain-JSON
 * {@code config.json} is the only other outcome allowed). Never another exception, a crash, or a
 * silently different model or state.
 */
class HostileFilesFuzzTest {

    private static final int VOCAB = 260;
    private static final int ROUNDS = 250;

    private enum Damage { HEADER_BIT, DATA_BIT, TRUNCATE, HEADER_LENGTH, APPEND, CONFIG_BIT, CONFIG_TRUNCATE }

    /** Every parameter as floats, by name. */
    private static TreeMap<String, float[]> weights(XLstmLanguageModel model) {
        TreeMap<String, float[]> out = new TreeMap<>();
        model.getParameters().forEach(p -> out.put(p.getKey(), p.getValue().getArray().toFloatArray()));
        return out;
    }

    private static void assertClearRefusal(Exception e, String what) {
        boolean expectedType = e instanceof IOException || e instanceof IllegalArgumentException;
        if (!expectedType || e.getMessage() == null || e.getMessage().isBlank()) {
            fail(what + ": refused with " + e.getClass().getName() + ": " + e.getMessage(), e);
        }
    }

    private static long headerEnd(byte[] bytes) {
        return 8 + ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    private static byte[] flipBit(byte[] bytes, long from, long to, Random random) {
        byte[] out = bytes.clone();
        int at = (int) (from + random.nextInt((int) (to - from)));
        out[at] ^= (byte) (1 << random.nextInt(8));
        return out;
    }

    @Test
    void damagedCheckpointsAreRefusedClearlyOrLoadExactly(@TempDir Path tmp) throws Exception {
        Random random = new Random(11);
        // per damage: refused, loaded exactly, loaded another model (weights or config) the format cannot tell
        TreeMap<Damage, int[]> outcomes = new TreeMap<>();
        TreeMap<Damage, String> example = new TreeMap<>(); // one refusal message per damage, for the log
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(TestModels.neurips(2, List.of(1), VOCAB), manager, 5, 0.3f);
            Path good = tmp.resolve("good");
            UpstreamCheckpoint.save(model, good);
            TreeMap<String, float[]> saved = weights(model);
            byte[] tensors = Files.readAllBytes(good.resolve("model.safetensors"));
            byte[] config = Files.readAllBytes(good.resolve("config.json"));
            long headerEnd = headerEnd(tensors);
            Path dir = tmp.resolve("damaged");
            Files.createDirectories(dir);
            for (int round = 0; round < ROUNDS; round++) {
                Damage damage = Damage.values()[random.nextInt(Damage.values().length)];
                byte[] t = tensors;
                byte[] c = config;
                switch (damage) {
                    case HEADER_BIT -> t = flipBit(tensors, 0, headerEnd, random);
                    case DATA_BIT -> t = flipBit(tensors, headerEnd, tensors.length, random);
                    case TRUNCATE -> t = Arrays.copyOf(tensors, random.nextInt(tensors.length));
                    case HEADER_LENGTH -> {
                        t = tensors.clone();
                        long length = random.nextBoolean() ? random.nextLong() : random.nextInt(1 << 20);
                        ByteBuffer.wrap(t, 0, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(length);
                    }
                    case APPEND -> {
                        t = Arrays.copyOf(tensors, tensors.length + 1 + random.nextInt(64));
                        for (int i = tensors.length; i < t.length; i++) {
                            t[i] = (byte) random.nextInt(256);
                        }
                    }
                    case CONFIG_BIT -> c = flipBit(config, 0, config.length, random);
                    case CONFIG_TRUNCATE -> c = Arrays.copyOf(config, random.nextInt(config.length));
                    default -> throw new AssertionError(damage);
                }
                Files.write(dir.resolve("model.safetensors"), t);
                Files.write(dir.resolve("config.json"), c);
                String what = "round " + round + " (" + damage + ")";
                int[] counts = outcomes.computeIfAbsent(damage, d -> new int[3]);
                try (NDManager scope = manager.newSubManager()) {
                    XLstmLanguageModel loaded;
                    try {
                        loaded = UpstreamCheckpoint.load(dir, scope);
                    } catch (Exception e) {
                        assertClearRefusal(e, what);
                        example.putIfAbsent(damage, e.getMessage().lines().findFirst().orElse(""));
                        counts[0]++;
                        continue;
                    }
                    TreeMap<String, float[]> got = weights(loaded);
                    boolean sameWeights = got.keySet().equals(saved.keySet())
                            && got.entrySet().stream().allMatch(en -> Arrays.equals(en.getValue(), saved.get(en.getKey())));
                    boolean sameConfig = loaded.getConfig().equals(model.getConfig());
                    if (sameWeights && sameConfig) {
                        counts[1]++;
                    } else {
                        // Only a value in config.json (plain JSON, no checksum) may change the model
                        // unnoticed; the weights' bytes are checked against the checksum saved with them.
                        assertTrue(damage == Damage.CONFIG_BIT && sameWeights, what + ": loaded a different model without a word");
                        counts[2]++;
                    }
                }
            }
        }
        StringBuilder table = new StringBuilder();
        int refused = 0;
        for (var e : outcomes.entrySet()) {
            table.append(String.format("%n  %-15s refused %3d, loaded exactly %3d, loaded changed %3d%s",
                    e.getKey(), e.getValue()[0], e.getValue()[1], e.getValue()[2],
                    example.containsKey(e.getKey()) ? "; e.g. " + example.get(e.getKey()) : ""));
            refused += e.getValue()[0];
        }
        System.out.printf("[fuzz] checkpoints, %d rounds:%s%n", ROUNDS, table);
        assertTrue(refused > ROUNDS / 3, "most damage is refused");
    }

    @Test
    void damagedSessionsAreRefusedClearlyOrRestoreExactly(@TempDir Path tmp) throws Exception {
        Random random = new Random(12);
        int[] outcomes = new int[2]; // refused, restored exactly
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(TestModels.neurips(2, List.of(1), VOCAB), manager, 6, 0.3f);
            Generator generator = new Generator(model, manager, null);
            Path good = tmp.resolve("good.session");
            long[] tokens;
            List<float[]> state = new ArrayList<>();
            try (GenerationSession s = generator.newSession()) {
                generator.generate(s, new long[] {72, 101, 108}, GenerationConfig.builder().maxNewTokens(3).build(), null);
                s.save(good);
                tokens = s.tokens();
                for (NDArray a : s.state().toNDList()) {
                    state.add(a.toFloatArray());
                }
            }
            byte[] bytes = Files.readAllBytes(good);
            Path file = tmp.resolve("damaged.session");
            for (int round = 0; round < ROUNDS; round++) {
                boolean truncate = random.nextInt(5) == 0;
                byte[] damaged = truncate ? Arrays.copyOf(bytes, random.nextInt(bytes.length)) : flipBit(bytes, 0, bytes.length, random);
                Files.write(file, damaged);
                String what = "round " + round + (truncate ? " (truncated)" : " (flipped bit)");
                try (GenerationSession s = generator.loadSession(file)) {
                    assertArrayEquals(tokens, s.tokens(), what + ": tokens");
                    NDList got = s.state().toNDList();
                    assertEquals(state.size(), got.size(), what + ": state tensors");
                    for (int i = 0; i < got.size(); i++) {
                        assertArrayEquals(state.get(i), got.get(i).toFloatArray(), 0f, what + ": state tensor " + i);
                    }
                    outcomes[1]++;
                } catch (IOException | RuntimeException e) {
                    assertClearRefusal(e, what);
                    outcomes[0]++;
                }
            }
        }
        System.out.printf("[fuzz] sessions, %d rounds: %d refused, %d restored exactly%n", ROUNDS, outcomes[0], outcomes[1]);
        assertTrue(outcomes[0] > ROUNDS / 2, "most damage is refused");
    }
}
