package ai.djl.xlstm.config;

import ai.djl.xlstm.internal.ConfigMaps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.ThreadMXBean;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Every config value is bounded in the record constructors, with an error naming the field, the
 * value and the bound; out-of-bound values fail at once (nothing is built from them), while real
 * models' values are accepted.
 */
class ConfigBoundsTest {

    /** Loads the config classes, so that the allocations below measure the checks alone. */
    @BeforeAll
    static void warmUp() {
        XLstmConfig.fromMap(neurips(Map.of()));
        XLstmConfig.fromMap(large(Map.of()));
    }

    @Test
    void aBillionBlocksFailsFastNamingNumBlocks() {
        // slstm_at "all" would list every block: the check must come before that list is built
        for (Map<String, Object> m : List.of(
                neurips(Map.of("num_blocks", 1e9, "slstm_at", "all")),
                neurips(Map.of("num_blocks", 1_000_000_000)),
                large(Map.of("num_blocks", 1_000_000_000)))) {
            assertFailsFast(() -> XLstmConfig.fromMap(m), "num_blocks must be in [1, 1024], got 1000000000");
        }
    }

    @Test
    void hugeVocabularyAndEmbeddingFailNamingTheBound() {
        assertFailsFast(() -> XLstmConfig.fromMap(neurips(Map.of("vocab_size", 1e9))),
                "vocab_size must be in [1, 16777216], got 1000000000");
        assertFailsFast(() -> XLstmConfig.fromMap(large(Map.of("vocab_size", 1e9))),
                "vocab_size must be in [1, 16777216], got 1000000000");
        assertFailsFast(() -> XLstmConfig.fromMap(neurips(Map.of("embedding_dim", 1_048_576))),
                "embedding_dim must be in [1, 65536], got 1048576");
        assertFailsFast(() -> XLstmConfig.fromMap(large(Map.of("embedding_dim", 1_048_576))),
                "embedding_dim must be in [1, 65536], got 1048576");
        // beyond 32 bits: refused as such, not wrapped or clamped into range
        assertFailsFast(() -> XLstmConfig.fromMap(neurips(Map.of("vocab_size", 1e10))),
                "field 'vocab_size' must be a 32-bit integer, got 1.0E10");
    }

    @Test
    void negativeContextLengthIsRefused() {
        assertFailsFast(() -> XLstmConfig.fromMap(neurips(Map.of("context_length", -5))),
                "context_length must be in [1, 1073741824], got -5");
        assertFailsFast(() -> XLstmConfig.fromMap(neurips(Map.of("mlstm", Map.of("context_length", -5)))),
                "mlstm.context_length must be in [1, 1073741824], got -5");
        assertFailsFast(() -> new XLstmLmConfig(10, 16, 1, List.of(), -5,
                        new MLstmLayerConfig(16, 2, 2.0, 64, 4, 4, false, 0f, 8), null, null, false, true, false, 0f),
                "context_length must be in [1, 1073741824], got -5");
    }

    @Test
    void everyValueIsBounded() {
        Map<Map<String, Object>, String> neurips = new LinkedHashMap<>();
        neurips.put(Map.of("vocab_size", 0), "vocab_size must be in [1, 16777216], got 0");
        neurips.put(Map.of("vocab_size", (1 << 24) + 1), "vocab_size must be in [1, 16777216], got 16777217");
        neurips.put(Map.of("embedding_dim", 0), "embedding_dim must be in [1, 65536], got 0");
        neurips.put(Map.of("num_blocks", 0), "num_blocks must be in [1, 1024], got 0");
        neurips.put(Map.of("num_blocks", 1025), "num_blocks must be in [1, 1024], got 1025");
        neurips.put(Map.of("context_length", (1 << 30) + 1), "context_length must be in [1, 1073741824], got 1073741825");
        neurips.put(Map.of("dropout", 1.0), "dropout must be in [0, 1), got 1.0");
        neurips.put(Map.of("dropout", -0.1), "dropout must be in [0, 1), got -0.1");
        neurips.put(Map.of("dropout", Double.NaN), "dropout must be in [0, 1), got NaN");
        neurips.put(mlstm("num_heads", 0), "mlstm.num_heads must be in [1, 16], got 0");
        neurips.put(mlstm("num_heads", 32), "mlstm.num_heads must be in [1, 16], got 32");
        neurips.put(mlstm("proj_factor", 0), "mlstm.proj_factor must be in (0, 64.0], got 0.0");
        neurips.put(mlstm("proj_factor", 65), "mlstm.proj_factor must be in (0, 64.0], got 65.0");
        neurips.put(mlstm("proj_factor", Double.NaN), "mlstm.proj_factor must be in (0, 64.0], got NaN");
        neurips.put(mlstm("proj_factor", Double.POSITIVE_INFINITY), "mlstm.proj_factor must be in (0, 64.0], got Infinity");
        neurips.put(mlstm("round_proj_up_to_multiple_of", 0), "mlstm.round_proj_up_to_multiple_of must be in [1, 65536], got 0");
        neurips.put(mlstm("round_proj_up_to_multiple_of", 65537),
                "mlstm.round_proj_up_to_multiple_of must be in [1, 65536], got 65537");
        neurips.put(mlstm("conv1d_kernel_size", -1), "mlstm.conv1d_kernel_size must be in [0, 64], got -1");
        neurips.put(mlstm("conv1d_kernel_size", 65), "mlstm.conv1d_kernel_size must be in [0, 64], got 65");
        neurips.put(mlstm("qkv_proj_blocksize", 0), "mlstm.qkv_proj_blocksize must be in [1, 64], got 0");
        neurips.put(mlstm("qkv_proj_blocksize", 128), "mlstm.qkv_proj_blocksize must be in [1, 64], got 128");
        neurips.put(mlstm("dropout", 1.5), "mlstm.dropout must be in [0, 1), got 1.5");
        neurips.put(Map.of("slstm", Map.of("num_heads", 0)), "slstm.num_heads must be in [1, 16], got 0");
        neurips.put(Map.of("slstm", Map.of("conv1d_kernel_size", 65)), "slstm.conv1d_kernel_size must be in [0, 64], got 65");
        neurips.put(Map.of("slstm", Map.of("dropout", 1.0)), "slstm.dropout must be in [0, 1), got 1.0");
        neurips.put(Map.of("feedforward", Map.of("proj_factor", -1)), "feedforward.proj_factor must be in (0, 64.0], got -1.0");
        neurips.put(Map.of("feedforward", Map.of("proj_factor", 64.5)), "feedforward.proj_factor must be in (0, 64.0], got 64.5");
        neurips.put(Map.of("feedforward", Map.of("round_proj_up_to_multiple_of", 0)),
                "feedforward.round_proj_up_to_multiple_of must be in [1, 65536], got 0");
        neurips.put(Map.of("feedforward", Map.of("dropout", Double.NaN)), "feedforward.dropout must be in [0, 1), got NaN");
        neurips.forEach((override, expected) -> assertFailsFast(() -> XLstmConfig.fromMap(neurips(override)), expected));

        Map<Map<String, Object>, String> large = new LinkedHashMap<>();
        large.put(Map.of("num_heads", 0), "num_heads must be in [1, 64], got 0");
        large.put(Map.of("num_heads", 128), "num_heads must be in [1, 64], got 128");
        large.put(Map.of("chunk_size", 0), "chunk_size must be in [1, 65536], got 0");
        large.put(Map.of("chunk_size", 65537), "chunk_size must be in [1, 65536], got 65537");
        large.put(Map.of("eps", 0), "eps must be finite and > 0, got 0.0");
        large.put(Map.of("eps", Double.NaN), "eps must be finite and > 0, got NaN");
        large.put(Map.of("eps", 1e300), "eps must be finite and > 0, got Infinity"); // a float overflows
        large.put(Map.of("norm_eps", -1e-6), "norm_eps must be finite and > 0, got -1.0E-6");
        large.put(Map.of("gate_soft_cap", -1), "gate_soft_cap must be finite and >= 0, got -1.0");
        large.put(Map.of("gate_soft_cap", Double.POSITIVE_INFINITY), "gate_soft_cap must be finite and >= 0, got Infinity");
        large.put(Map.of("output_logit_soft_cap", Double.NaN), "output_logit_soft_cap must be finite and >= 0, got NaN");
        large.put(Map.of("qk_dim_factor", 0), "qk_dim_factor must be in (0, 64.0], got 0.0");
        large.put(Map.of("qk_dim_factor", 65), "qk_dim_factor must be in (0, 64.0], got 65.0");
        large.put(Map.of("v_dim_factor", Double.NaN), "v_dim_factor must be in (0, 64.0], got NaN");
        large.put(Map.of("qk_dim_factor", 0.01), "num_heads 4 must divide the qk dimension 0");
        large.put(Map.of("ffn_proj_factor", 100), "ffn_proj_factor must be in (0, 64.0], got 100.0");
        large.put(Map.of("ffn_round_up_to_multiple_of", 0), "ffn_round_up_to_multiple_of must be in [1, 65536], got 0");
        large.forEach((override, expected) -> assertFailsFast(() -> XLstmConfig.fromMap(large(override)), expected));
    }

    @Test
    void theRecordConstructorsValidate() {
        // the constructors are the one place: a config built in code is held to the same bounds
        assertFailsFast(() -> new XLstmLargeConfig(1_000_000_000, 64, 4, 2, false, 1e-6f, true, 0.5, 1.0, 64, 1e-6f,
                2.6667, 64, 15f, 30f), "vocab_size must be in [1, 16777216], got 1000000000");
        assertFailsFast(() -> new SLstmLayerConfig(16, 4, 4, 1.5f), "slstm.dropout must be in [0, 1), got 1.5");
        assertFailsFast(() -> new FeedForwardConfig(16, Double.NaN, "gelu", 64, false, 0f),
                "feedforward.proj_factor must be in (0, 64.0], got NaN");
        assertFailsFast(() -> new MLstmLayerConfig(1 << 20, 4, 2.0, 64, 4, 4, false, 0f, 8),
                "mlstm.embedding_dim must be in [1, 65536], got 1048576");
    }

    @Test
    void nonFiniteValuesInYamlAreRefused(@TempDir Path tmp) throws Exception {
        Path yaml = tmp.resolve("config.yaml");
        Files.writeString(yaml, "vocab_size: 50\nembedding_dim: 64\nnum_heads: 4\nnum_blocks: 2\n"
                + "qk_dim_factor: 0.5\neps: .nan\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> XLstmConfig.read(yaml));
        assertTrue(e.getMessage().contains("eps must be finite and > 0, got NaN"), e.getMessage());
        Files.writeString(yaml, "vocab_size: 50\nembedding_dim: 64\nnum_heads: 4\nnum_blocks: 2\n"
                + "qk_dim_factor: 0.5\ngate_soft_cap: .inf\n");
        e = assertThrows(IllegalArgumentException.class, () -> XLstmConfig.read(yaml));
        assertTrue(e.getMessage().contains("gate_soft_cap must be finite and >= 0, got Infinity"), e.getMessage());
    }

    @Test
    void unreadableConfigFilesAreNamedWithTheirProblem(@TempDir Path dir) throws Exception {
        Path latin1 = dir.resolve("config.json");
        Files.write(latin1, new byte[] {'{', '"', 'a', (byte) 0xE9, '"', ':', '1', '}'}); // Latin-1, not UTF-8
        Path badYaml = Files.writeString(dir.resolve("config.yaml"), "model:\n  a: [1, 2\n");
        Path latin1Yaml = dir.resolve("other.yaml");
        Files.write(latin1Yaml, new byte[] {'a', ':', ' ', (byte) 0xE9});
        Path badJson = Files.writeString(dir.resolve("broken.json"), "{\"a\": ");
        for (Object[] c : new Object[][] {{latin1, "is not UTF-8 text"}, {latin1Yaml, "is not UTF-8 text"},
                {badYaml, "is not valid YAML"}, {badJson, "is not valid JSON"}}) {
            Path file = (Path) c[0];
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigMaps.readMap(file));
            assertTrue(e.getMessage().startsWith("config " + file + " " + c[1]), e.getMessage());
        }
    }

    @Test
    void realModelsAndTheBoundsThemselvesAreAccepted() {
        // xLSTM 7B (the Hugging Face field names)
        Map<String, Object> xlstm7b = new LinkedHashMap<>();
        xlstm7b.put("model_type", "xlstm");
        xlstm7b.put("vocab_size", 50304);
        xlstm7b.put("hidden_size", 4096);
        xlstm7b.put("num_hidden_layers", 32);
        xlstm7b.put("num_heads", 8);
        xlstm7b.put("qk_dim_factor", 0.5);
        xlstm7b.put("v_dim_factor", 1.0);
        xlstm7b.put("ffn_proj_factor", 2.667);
        xlstm7b.put("ffn_round_up_to_multiple_of", 64);
        xlstm7b.put("chunk_size", 64);
        XLstmConfig c7b = XLstmConfig.fromMap(xlstm7b);
        assertEquals(4096, c7b.embeddingDim());
        // ~6.9 billion parameters, as published
        assertTrue(c7b.parameterCount() > 6.8e9 && c7b.parameterCount() < 7.0e9, "7B: " + c7b.parameterCount());

        // a GPT-2 vocabulary, a million-token context
        XLstmConfig gpt2 = XLstmConfig.fromMap(neurips(Map.of("vocab_size", 50257, "context_length", 1 << 20)));
        assertEquals(50257, gpt2.vocabSize());

        // the bounds are inclusive
        XLstmConfig.fromMap(neurips(Map.of("vocab_size", 1 << 24, "embedding_dim", 1 << 16, "num_blocks", 1024,
                "slstm_at", "all", "context_length", 1 << 30)));
        XLstmConfig.fromMap(neurips(Map.of("mlstm", Map.of("num_heads", 16, "conv1d_kernel_size", 64,
                "proj_factor", 64.0, "round_proj_up_to_multiple_of", 1 << 16, "qkv_proj_blocksize", 1 << 16))));
        XLstmConfig.fromMap(large(Map.of("chunk_size", 1 << 16, "gate_soft_cap", 0, "output_logit_soft_cap", 0,
                "num_heads", 64, "qk_dim_factor", 64.0, "v_dim_factor", 64.0, "ffn_proj_factor", 64.0)));
    }

    /**
     * At most this many bytes may be allocated on the Java heap while refusing a config: the
     * exception and its message take a few kilobytes, a list of 10^9 blocks or a vocabulary-sized
     * array takes gigabytes.
     */
    private static final long REFUSAL_ALLOCATION_LIMIT = 1 << 20;

    /**
     * Asserts that {@code build} throws with {@code expected} in the message having built nothing
     * from the value: the thread allocates at most {@link #REFUSAL_ALLOCATION_LIMIT} bytes on the
     * way (measured by the JVM, so a loaded machine does not change it; a list of a billion
     * blocks built before the check fails it, or runs out of memory). The timeout only guards
     * against a hang.
     */
    private static void assertFailsFast(Supplier<?> build, String expected) {
        ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled(),
                "this JVM measures per-thread allocation");
        long[] allocated = new long[1];
        IllegalArgumentException e = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            long before = threads.getCurrentThreadAllocatedBytes();
            try {
                return assertThrows(IllegalArgumentException.class, build::get, expected);
            } finally {
                allocated[0] = threads.getCurrentThreadAllocatedBytes() - before;
            }
        });
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' lacks '" + expected + "'");
        assertTrue(allocated[0] <= REFUSAL_ALLOCATION_LIMIT,
                "allocated " + allocated[0] + " bytes before refusing, more than " + REFUSAL_ALLOCATION_LIMIT + ": " + expected);
        maxAllocated = Math.max(maxAllocated, allocated[0]);
    }

    /** The most any refusal allocated, printed once all ran. */
    private static long maxAllocated;

    @AfterAll
    static void printAllocation() {
        System.out.printf("[config-bounds] the most a refusal allocated: %,d bytes (limit %,d)%n", maxAllocated,
                REFUSAL_ALLOCATION_LIMIT);
    }

    /** A valid NeurIPS config (D = 16, sLSTM at 1 of 2 blocks) with {@code override} applied. */
    private static Map<String, Object> neurips(Map<String, Object> override) {
        return ai.djl.xlstm.TestModels.neuripsFields(override);
    }

    private static Map<String, Object> mlstm(String key, Object value) {
        Map<String, Object> section = new LinkedHashMap<>();
        section.put("num_heads", 2);
        section.put(key, value);
        return Map.of("mlstm", section);
    }

    /** A valid xLSTM Large config (D = 64, 4 heads) with {@code override} applied. */
    private static Map<String, Object> large(Map<String, Object> override) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", "xlstm-large");
        m.put("vocab_size", 50);
        m.put("embedding_dim", 64);
        m.put("num_heads", 4);
        m.put("num_blocks", 2);
        m.putAll(override);
        return m;
    }
}
