package ai.djl.xlstm.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.config.XLstmLmConfig;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationSession;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.io.ImportOptions;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.zoo.FileMutator.Damage;
import ai.djl.xlstm.zoo.FileMutator.Kind;
import ai.djl.xlstm.zoo.FileMutator.Mutation;

import com.google.gson.JsonObject;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * Seeded damage to every file a user keeps, made from the real files (the bundled models, the
 * upstream references of {@code integration-tests}, sessions saved by this library): checkpoint
 * folders, sharded checkpoints (index + shards), config files (JSON and YAML), generation sessions,
 * {@code tokenizer.json} and {@code generation_config.json}. Each damaged input, loaded under a
 * 5-second watchdog, must end in one of:
 *
 * <ul>
 *   <li>a refusal: an {@link IOException} or {@link IllegalArgumentException} with a message;
 *   <li>an identical load: the same weights bit for bit and the same config, the same session
 *       (tokens, state and logits bit for bit), the same config, generation settings or tokenizer
 *       behaviour;
 *   <li>a change no format can see ({@link Outcome#UNSEEABLE}, each with its reason): a valid edit of
 *       a file that carries no checksum (config files, {@code generation_config.json}, {@code
 *       tokenizer.json}, and safetensors files of other writers, upstream's among them), or a
 *       valid header edit of a safetensors file of format 1, whose checksum {@link
 *       SafeTensors#DATA_CHECKSUM_KEY} covers the data alone;
 *   <li>a known hole ({@link Outcome#KNOWN_HOLE}, one of {@link Hole}, reported and open; none is
 *       open now): counted, and a failure under {@code -Dfuzz.strictKnownHoles=<its key>} or {@code
 *       =true} (for once it is fixed).
 * </ul>
 *
 * <p>Anything else fails: another exception or one without a message, a JVM error, a load that
 * runs past the watchdog, a silent change. The size is {@code -Dfuzz.iterations} per format
 * (default 200, seconds per format; the {@code fuzz} Maven profile runs 10,000 in a forked JVM
 * whose crashes leave {@code target/fuzz-crash/hs_err_pid*.log}); the seed is {@code -Dfuzz.seed}.
 * Inputs that fail are written under {@code target/fuzz-findings}; those that found bugs are kept as
 * the regression corpus {@code fuzz-corpus/} that {@link #regressionCorpusIsRefusedOrLoadsExactly}
 * replays.
 */
class HostileFilesFuzzTest {

    static final int ITERATIONS = Integer.getInteger("fuzz.iterations", 200);
    static final long SEED = Long.getLong("fuzz.seed", 13L);
    /**
     * The known holes that are failures: {@code -Dfuzz.strictKnownHoles=<key>,<key>} (keys of {@link
     * Hole}), or {@code true} for all of them.
     */
    static final List<String> STRICT_KNOWN_HOLES = List.of(System.getProperty("fuzz.strictKnownHoles", "").split(","));

    /**
     * Holes found and reported but open, each counted as {@link Outcome#KNOWN_HOLE} (where a loader
     * recognizes it) and a failure once strict. None is open: the last ones, fixed, were those of
     * branch i13-files ({@code i13-files}: data sections longer than their tensors, renamed checksum
     * keys, headers outside the checksum, a declared sLSTM layout the tensors contradict, FIFO
     * shards) and {@code tied-lm-head} ({@code tie_weights: true} over a checkpoint with its own
     * {@code lm_head.weight}). A new one gets a constant {@code NAME("key")} saying where it is and
     * what loads, and its corpus cases {@code hole=key}; see docs/fuzzing.md.
     */
    enum Hole {
        ;

        final String key;

        Hole(String key) {
            this.key = key;
        }

        boolean strict() {
            return STRICT_KNOWN_HOLES.contains("true") || STRICT_KNOWN_HOLES.contains(key);
        }

        static Hole of(String key) {
            return Arrays.stream(values()).filter(h -> h.key.equals(key)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("unknown hole " + key));
        }
    }
    static final long WATCHDOG_SECONDS = 5;
    static final Path MODELS = Path.of("src/main/resources/ai/djl/xlstm/zoo/models");
    static final Path REFERENCE = Path.of("../integration-tests/src/test/resources/reference");
    static final Path FINDINGS = Path.of("target/fuzz-findings");
    static final String PROBE = "It is a truth universally acknowledged, that a single man in possession of a good"
            + " fortune, must be in want of a wife. \u00c9lise\u2019s 3 caf\u00e9s \u2014 na\u00efve!\n\t<|endoftext|> 12345";

    /** How one damaged input ended. */
    enum Outcome {
        REFUSED, IDENTICAL, UNSEEABLE, KNOWN_HOLE, UNCLEAR_REFUSAL, SILENT_CHANGE, CRASH, HANG
    }

    /**
     * An outcome with what explains it (a refusal's message, the change found, the hole) and, for
     * {@link Outcome#KNOWN_HOLE}, which hole.
     */
    record Verdict(Outcome outcome, String note, Hole hole) {
        Verdict(Outcome outcome, String note) {
            this(outcome, note, null);
        }

        static Verdict hole(Hole hole, String note) {
            return new Verdict(Outcome.KNOWN_HOLE, note + " [" + hole.key + "]", hole);
        }

        boolean failure() {
            return outcome == Outcome.UNCLEAR_REFUSAL || outcome == Outcome.SILENT_CHANGE || outcome == Outcome.CRASH
                    || outcome == Outcome.HANG || (outcome == Outcome.KNOWN_HOLE && hole.strict());
        }
    }

    /**
     * One seed input: its files by name, the structure of those that get damaged, and what an
     * identical load gives.
     */
    record Seed(String name, Map<String, byte[]> files, Map<String, Kind> targets, Object reference) {}

    /** The damage done to one input. */
    record Applied(String file, Damage damage, Mutation mutation) {}

    /** Loads a damaged input and tells how its load compares with the seed's. */
    @FunctionalInterface
    interface Loader {
        Verdict load(Path dir, Seed seed, Applied applied) throws Exception;
    }

    private static NDManager manager;
    private static ExecutorService watchdog = newWatchdog();

    @BeforeAll
    static void start() throws IOException {
        manager = NDManager.newBaseManager();
        // where the fuzz profile's -XX:ErrorFile puts a crash log (the JVM does not create folders)
        Files.createDirectories(Path.of("target/fuzz-crash"));
    }

    @AfterAll
    static void stop() {
        watchdog.shutdownNow();
        manager.close();
    }

    private static ExecutorService newWatchdog() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-load");
            t.setDaemon(true); // a load stuck in a system call must not keep the JVM alive
            return t;
        });
    }

    // ------------------------------------------------------------------ the formats

    @Test
    void checkpointFolders(@TempDir Path tmp) throws Exception {
        List<Seed> seeds = new ArrayList<>();
        Path tiny = MODELS.resolve("xlstm-austen-tiny");
        seeds.add(checkpointSeed("tiny (bundled, checksummed)", files(tiny, "config.json", "model.safetensors")));
        seeds.add(checkpointSeed("tiny (format 1, data checksum)", formatOne(files(tiny, "config.json",
                "model.safetensors"))));
        for (String ref : List.of("neurips-a", "large-a")) {
            Path dir = REFERENCE.resolve(ref);
            seeds.add(checkpointSeed(ref + " (upstream, no checksum)", files(dir, "config.json", "model.safetensors")));
            seeds.add(checkpointSeed(ref + " (re-saved, checksummed)", resaved(dir, tmp.resolve(ref + "-resaved"))));
        }
        Map<String, byte[]> yaml = files(REFERENCE.resolve("large-a"), "model.safetensors");
        yaml.put("config.yaml", yaml(files(REFERENCE.resolve("large-a"), "config.json").get("config.json")));
        seeds.add(checkpointSeed("large-a (config.yaml)", yaml));
        fuzz("checkpoint folder", seeds, tmp, HostileFilesFuzzTest::loadCheckpoint);
    }

    @Test
    void shardedCheckpoints(@TempDir Path tmp) throws Exception {
        List<Seed> seeds = new ArrayList<>();
        for (String ref : List.of("neurips-a", "large-a")) {
            Map<String, byte[]> sharded = shard(REFERENCE.resolve(ref), tmp.resolve(ref + "-sharded"), true);
            seeds.add(checkpointSeed(ref + " (index + 2 checksummed shards)", sharded));
        }
        Map<String, byte[]> upstream = shard(REFERENCE.resolve("neurips-a"), tmp.resolve("plain-sharded"), false);
        seeds.add(checkpointSeed("neurips-a (index + 2 shards, no checksum)", upstream));
        fuzz("index + shards", seeds, tmp, HostileFilesFuzzTest::loadCheckpoint);
    }

    @Test
    void configFiles(@TempDir Path tmp) throws Exception {
        List<Seed> seeds = new ArrayList<>();
        for (Path dir : List.of(MODELS.resolve("xlstm-austen-tiny"), MODELS.resolve("xlstm-austen-small"),
                REFERENCE.resolve("neurips-a"), REFERENCE.resolve("large-a"))) {
            Map<String, byte[]> f = files(dir, "config.json");
            seeds.add(new Seed(dir.getFileName() + "/config.json", f, Map.of("config.json", Kind.JSON),
                    XLstmConfig.read(dir.resolve("config.json"))));
        }
        Map<String, byte[]> y = Map.of("config.yaml", yaml(files(REFERENCE.resolve("large-a"), "config.json").get("config.json")));
        seeds.add(new Seed("large-a/config.yaml", y, Map.of("config.yaml", Kind.YAML),
                XLstmConfig.read(REFERENCE.resolve("large-a/config.json"))));
        fuzz("config json/yaml", seeds, tmp, HostileFilesFuzzTest::loadConfig);
    }

    /** What an identical session load gives. */
    record SessionReference(Generator generator, long[] tokens, List<float[]> state, float[] logits) {}

    @Test
    void generationSessions(@TempDir Path tmp) throws Exception {
        List<Seed> seeds = new ArrayList<>();
        for (Path dir : List.of(MODELS.resolve("xlstm-austen-tiny"), REFERENCE.resolve("neurips-a"),
                REFERENCE.resolve("large-a"))) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(dir, manager);
            Generator generator = new Generator(model, manager, null);
            Path file = tmp.resolve(dir.getFileName() + ".session");
            try (GenerationSession s = generator.newSession()) {
                generator.generate(s, new long[] {3, 14, 15, 9}, GenerationConfig.builder().maxNewTokens(3).seed(7).build(),
                        null);
                s.save(file);
            }
            SessionReference reference;
            try (GenerationSession s = generator.loadSession(file)) {
                reference = new SessionReference(generator, s.tokens(), floats(s), s.nextLogits());
            }
            seeds.add(new Seed(dir.getFileName() + ".session", Map.of("saved.session", Files.readAllBytes(file)),
                    Map.of("saved.session", Kind.SAFETENSORS), reference));
        }
        fuzz("session file", seeds, tmp, HostileFilesFuzzTest::loadSession);
    }

    /** What an identical tokenizer load gives: its behaviour on {@link #PROBE}. */
    record TokenizerReference(int vocabularySize, OptionalLong endOfText, long[] ids, String decoded) {}

    @Test
    void tokenizers(@TempDir Path tmp) throws Exception {
        Path file = MODELS.resolve("xlstm-austen-tiny/tokenizer.json");
        TokenizerReference reference;
        try (HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(file)) {
            long[] ids = codec.encode(PROBE);
            reference = new TokenizerReference(codec.vocabularySize(), codec.endOfText(), ids, codec.decode(ids));
        }
        Seed seed = new Seed("xlstm-austen-tiny/tokenizer.json", files(file.getParent(), "tokenizer.json"),
                Map.of("tokenizer.json", Kind.JSON), reference);
        fuzz("tokenizer.json", List.of(seed), tmp, HostileFilesFuzzTest::loadTokenizer);
    }

    @Test
    void generationConfigs(@TempDir Path tmp) throws Exception {
        List<Seed> seeds = new ArrayList<>();
        for (String model : List.of("xlstm-austen-tiny", "xlstm-austen-small")) {
            Path dir = MODELS.resolve(model);
            seeds.add(new Seed(model + "/generation_config.json", files(dir, "generation_config.json"),
                    Map.of("generation_config.json", Kind.JSON), GenerationArguments.read(dir, Map.of(), EOT).config()));
        }
        // every field GenerationArguments reads, as a Hugging Face generation_config.json has them
        String full = """
                {"do_sample": true, "temperature": 0.7, "top_k": 40, "top_p": 0.9, "min_p": 0.05,
                 "repetition_penalty": 1.2, "num_beams": 1, "length_penalty": 1.0, "max_new_tokens": 64,
                 "seed": 42, "stop": ["\\n\\n", "THE END"], "eos_token_id": [8191, 0], "bos_token_id": 1,
                 "pad_token_id": 0, "transformers_version": "4.46.0"}
                """;
        Path dir = Files.createDirectories(tmp.resolve("full"));
        Files.writeString(dir.resolve("generation_config.json"), full);
        seeds.add(new Seed("every field/generation_config.json", files(dir, "generation_config.json"),
                Map.of("generation_config.json", Kind.JSON), GenerationArguments.read(dir, Map.of(), EOT).config()));
        fuzz("generation_config.json", seeds, tmp, HostileFilesFuzzTest::loadGenerationConfig);
    }

    static final OptionalLong EOT = OptionalLong.of(8191);

    // ------------------------------------------------------------------ loaders and judges

    /** What an identical checkpoint load gives. */
    record CheckpointReference(XLstmConfig config, Map<String, float[]> weights) {}

    private static Seed checkpointSeed(String name, Map<String, byte[]> files) throws IOException {
        Map<String, Kind> targets = new LinkedHashMap<>();
        for (String f : files.keySet()) {
            targets.put(f, f.endsWith(".safetensors") ? Kind.SAFETENSORS : f.endsWith(".yaml") ? Kind.YAML : Kind.JSON);
        }
        Path dir = Files.createTempDirectory("fuzz-seed");
        try {
            write(dir, files);
            try (NDManager scope = manager.newSubManager()) {
                XLstmLanguageModel model = UpstreamCheckpoint.load(dir, scope);
                return new Seed(name, files, targets, new CheckpointReference(model.getConfig(), weights(model)));
            }
        } finally {
            deleteTree(dir);
        }
    }

    private static Verdict loadCheckpoint(Path dir, Seed seed, Applied applied) throws Exception {
        CheckpointReference reference = (CheckpointReference) seed.reference();
        try (NDManager scope = manager.newSubManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(dir, scope);
            boolean sameConfig = model.getConfig().equals(reference.config());
            Map<String, float[]> weights = weights(model);
            boolean sameWeights = weights.keySet().equals(reference.weights().keySet()) && weights.entrySet().stream()
                    .allMatch(e -> Arrays.equals(e.getValue(), reference.weights().get(e.getKey())));
            if (sameConfig && sameWeights) {
                return new Verdict(Outcome.IDENTICAL, "");
            }
            String what = (sameConfig ? "" : "config ") + (sameWeights ? "" : "weights ") + "changed";
            Kind kind = applied.file() == null ? null : seed.targets().get(applied.file());
            if (kind == Kind.JSON || kind == Kind.YAML) {
                if (!applied.file().startsWith("config.")) {
                    return new Verdict(Outcome.SILENT_CHANGE, what + " by an edit of " + applied.file());
                }
                if (sameWeights) {
                    return new Verdict(Outcome.UNSEEABLE, "a valid config value (config files carry no checksum)");
                }
                ImportOptions before = declared(seed.files().get(applied.file()), applied.file());
                ImportOptions after = ImportOptions.declaredBy(dir.resolve(applied.file()));
                String how = !before.equals(after) ? " (it declares " + after + " for weights stored as " + before + ")"
                        : model.getConfig() instanceof XLstmLmConfig lm && lm.tieWeights()
                                && reference.config() instanceof XLstmLmConfig old && !old.tieWeights()
                                ? " (tie_weights turned on over the checkpoint's own lm_head.weight)" : "";
                return new Verdict(Outcome.SILENT_CHANGE, what + " by a config edit" + how);
            }
            if (kind != Kind.SAFETENSORS || !sameConfig) {
                return new Verdict(Outcome.SILENT_CHANGE, what);
            }
            Path file = dir.resolve(applied.file());
            long dataSize = Files.size(file) - 8 - FileMutator.headerLength(Files.readAllBytes(file));
            long end = SafeTensors.readHeader(file).values().stream().mapToLong(SafeTensors.TensorInfo::end).max().orElse(0);
            if (end != dataSize) {
                return new Verdict(Outcome.SILENT_CHANGE, what + ": a data section longer than its tensors loads ("
                        + dataSize + " bytes for " + end + ")");
            }
            String checksumKey = checksumKey(seed.files().get(applied.file()));
            if (checksumKey == null) {
                return new Verdict(Outcome.UNSEEABLE, "a valid edit of a safetensors file without a checksum"
                        + " (another writer's, such as upstream's)");
            }
            if (checksumKey.equals(SafeTensors.DATA_CHECKSUM_KEY) && !applied.mutation().dataChanged()) {
                return new Verdict(Outcome.UNSEEABLE, "a valid header edit of a format-1 file (its checksum "
                        + SafeTensors.DATA_CHECKSUM_KEY + " covers the data alone)");
            }
            boolean keyKept = SafeTensors.readMetadata(file).containsKey(checksumKey);
            return new Verdict(Outcome.SILENT_CHANGE, what + " past the checksum " + checksumKey
                    + (keyKept ? "" : ", its key renamed"));
        }
    }

    /**
     * The checksum key of a safetensors file's metadata: {@link SafeTensors#CHECKSUM_KEY} (format 2,
     * the whole file), {@link SafeTensors#DATA_CHECKSUM_KEY} (format 1, the data alone), or null
     * (another writer's file).
     */
    private static String checksumKey(byte[] safetensors) {
        JsonObject metadata = FileMutator.header(safetensors).getAsJsonObject("__metadata__");
        if (metadata != null && metadata.has(SafeTensors.CHECKSUM_KEY)) {
            return SafeTensors.CHECKSUM_KEY;
        }
        return metadata != null && metadata.has(SafeTensors.DATA_CHECKSUM_KEY) ? SafeTensors.DATA_CHECKSUM_KEY : null;
    }

    private static ImportOptions declared(byte[] config, String name) throws IOException {
        Path dir = Files.createTempDirectory("fuzz-config");
        try {
            Files.write(dir.resolve(name), config);
            return ImportOptions.declaredBy(dir.resolve(name));
        } finally {
            deleteTree(dir);
        }
    }

    private static Verdict loadConfig(Path dir, Seed seed, Applied applied) throws Exception {
        String name = seed.files().keySet().iterator().next();
        XLstmConfig config = XLstmConfig.read(dir.resolve(name));
        config.parameterCount();
        config.fingerprint();
        // what save writes must read back as this config
        Path written = dir.resolve("written.json");
        config.write(written);
        XLstmConfig again = XLstmConfig.read(written);
        if (!again.equals(config)) {
            return new Verdict(Outcome.SILENT_CHANGE, "the config does not survive write and read: " + config
                    + " became " + again);
        }
        return config.equals(seed.reference()) ? new Verdict(Outcome.IDENTICAL, "")
                : new Verdict(Outcome.UNSEEABLE, "a valid config value (config files carry no checksum)");
    }

    private static Verdict loadSession(Path dir, Seed seed, Applied applied) throws Exception {
        SessionReference reference = (SessionReference) seed.reference();
        try (GenerationSession s = reference.generator().loadSession(dir.resolve("saved.session"))) {
            List<String> changed = new ArrayList<>();
            if (!Arrays.equals(reference.tokens(), s.tokens())) {
                changed.add("tokens");
            }
            List<float[]> state = floats(s);
            for (int i = 0; i < Math.max(state.size(), reference.state().size()); i++) {
                if (i >= state.size() || i >= reference.state().size() || !Arrays.equals(state.get(i), reference.state().get(i))) {
                    changed.add("state." + i);
                }
            }
            if (!Arrays.equals(reference.logits(), s.nextLogits())) {
                changed.add("logits");
            }
            return changed.isEmpty() ? new Verdict(Outcome.IDENTICAL, "")
                    : new Verdict(Outcome.SILENT_CHANGE, "restored a session with other " + changed);
        }
    }

    private static Verdict loadTokenizer(Path dir, Seed seed, Applied applied) throws Exception {
        TokenizerReference reference = (TokenizerReference) seed.reference();
        try (HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(dir.resolve("tokenizer.json"))) {
            long[] ids = codec.encode(PROBE);
            for (long id : ids) {
                if (id < 0 || id >= codec.vocabularySize()) {
                    return new Verdict(Outcome.SILENT_CHANGE, "encodes to id " + id + " outside the vocabulary size "
                            + codec.vocabularySize() + " it reports");
                }
            }
            String decoded = codec.decode(ids);
            boolean same = codec.vocabularySize() == reference.vocabularySize()
                    && codec.endOfText().equals(reference.endOfText()) && Arrays.equals(ids, reference.ids())
                    && decoded.equals(reference.decoded());
            return same ? new Verdict(Outcome.IDENTICAL, "")
                    : new Verdict(Outcome.UNSEEABLE, "a valid tokenizer.json edit (it carries no checksum)");
        }
    }

    private static Verdict loadGenerationConfig(Path dir, Seed seed, Applied applied) throws Exception {
        GenerationConfig config = GenerationArguments.read(dir, Map.of(), EOT).config();
        return config.equals(seed.reference()) ? new Verdict(Outcome.IDENTICAL, "")
                : new Verdict(Outcome.UNSEEABLE, "valid settings (generation_config.json carries no checksum)");
    }

    // ------------------------------------------------------------------ the harness

    /** Outcomes of one format, by damage. */
    static final class Tally {
        final String format;
        final Map<Damage, int[]> counts = new EnumMap<>(Damage.class);
        final List<String> failures = new ArrayList<>();
        final Map<String, String> notes = new TreeMap<>(); // one example per (outcome, note start)
        int refusalsNotNamingTheFile;
        final List<String> vague = new ArrayList<>();

        Tally(String format) {
            this.format = format;
        }

        void add(Damage damage, Verdict v, String what) {
            counts.computeIfAbsent(damage, d -> new int[Outcome.values().length])[v.outcome().ordinal()]++;
            String note = v.note() == null ? "" : v.note();
            if (v.outcome() != Outcome.REFUSED && v.outcome() != Outcome.IDENTICAL) {
                notes.putIfAbsent(v.outcome() + ": " + (note.length() > 90 ? note.substring(0, 90) : note), what);
            }
            if (v.failure()) {
                failures.add(what + " -> " + v.outcome() + ": " + note);
            }
        }

        int total(Outcome o) {
            return counts.values().stream().mapToInt(c -> c[o.ordinal()]).sum();
        }

        String table() {
            StringBuilder s = new StringBuilder(String.format("[fuzz] %s, %d inputs (seed %d)%n", format,
                    counts.values().stream().mapToInt(c -> Arrays.stream(c).sum()).sum(), SEED));
            s.append(String.format("  %-22s", "damage"));
            for (Outcome o : Outcome.values()) {
                s.append(String.format(" %10s", o.name().length() > 10 ? o.name().substring(0, 10) : o.name()));
            }
            s.append('\n');
            int[] totals = new int[Outcome.values().length];
            for (Map.Entry<Damage, int[]> e : counts.entrySet()) {
                s.append(String.format("  %-22s", e.getKey()));
                for (int i = 0; i < totals.length; i++) {
                    s.append(String.format(" %10d", e.getValue()[i]));
                    totals[i] += e.getValue()[i];
                }
                s.append('\n');
            }
            s.append(String.format("  %-22s", "total"));
            for (int t : totals) {
                s.append(String.format(" %10d", t));
            }
            s.append(String.format("%n  refusals whose message names no file of the input: %d%n", refusalsNotNamingTheFile));
            vague.stream().limit(5).forEach(v -> s.append("    e.g. ").append(v).append('\n'));
            notes.forEach((k, v) -> s.append("  ").append(k).append("  [e.g. ").append(v).append("]\n"));
            return s.toString();
        }
    }

    private static void fuzz(String format, List<Seed> seeds, Path tmp, Loader loader) throws Exception {
        Random random = new Random(SEED ^ format.hashCode());
        Tally tally = new Tally(format);
        Path root = Files.createDirectories(tmp.resolve("input-" + format.replaceAll("[^a-z]+", "-")));
        int saved = 0;
        int fifos = 0;
        long started = System.nanoTime();
        for (int i = 0; i < ITERATIONS; i++) {
            Seed seed = seeds.get(random.nextInt(seeds.size()));
            List<String> targets = new ArrayList<>(seed.targets().keySet());
            String file = targets.get(random.nextInt(targets.size()));
            List<Damage> damages = new ArrayList<>(FileMutator.applicable(seed.targets().get(file)));
            if (seed.files().containsKey(INDEX)) {
                damages.add(Damage.SHARD_MISSING);
                if (fifos < MAX_FIFOS) {
                    damages.add(Damage.FIFO_SHARD);
                }
            }
            Damage damage = damages.get(random.nextInt(damages.size()));
            Path dir = Files.createDirectories(root.resolve(Integer.toString(i)));
            for (Map.Entry<String, byte[]> f : seed.files().entrySet()) {
                if (!f.getKey().equals(file) || damage == Damage.FIFO_SHARD || damage == Damage.SHARD_MISSING) {
                    Files.write(dir.resolve(f.getKey()), f.getValue());
                }
            }
            Applied applied;
            if (damage == Damage.FIFO_SHARD || damage == Damage.SHARD_MISSING) {
                String shard = seed.files().keySet().stream().filter(f -> f.endsWith(".safetensors"))
                        .skip(random.nextInt(2)).findFirst().orElseThrow();
                Files.delete(dir.resolve(shard));
                if (damage == Damage.FIFO_SHARD) {
                    mkfifo(dir.resolve(shard));
                    fifos++;
                }
                applied = new Applied(shard, damage, new Mutation(new byte[0], true, shard + " is "
                        + (damage == Damage.FIFO_SHARD ? "a FIFO" : "missing")));
            } else {
                Mutation m = FileMutator.mutate(seed.files().get(file), seed.targets().get(file), damage, random);
                Files.write(dir.resolve(file), m.bytes());
                applied = new Applied(file, damage, m);
            }
            String what = String.format("%s #%d %s, %s: %s %s", format, i, seed.name(), file, damage,
                    applied.mutation().detail());
            Verdict v = watch(() -> loader.load(dir, seed, applied), dir, seed);
            if (v.outcome() == Outcome.REFUSED && !namesTheInput(v.note(), dir, seed)) {
                tally.refusalsNotNamingTheFile++;
                if (tally.vague.size() < 20) {
                    tally.vague.add(damage + ": " + firstLine(v.note()));
                }
            }
            tally.add(damage, v, what);
            if (v.failure() && saved < 50) {
                saved++;
                keep(dir, format, i, damage, seed, v, what);
            }
            if (v.outcome() == Outcome.HANG) {
                unblock(dir); // the stuck load (if it waits on a FIFO) ends; its folder is left behind
            } else {
                deleteTree(dir);
            }
        }
        System.out.print(tally.table());
        System.out.printf("  %.1f s, %.1f ms per input%n", (System.nanoTime() - started) / 1e9,
                (System.nanoTime() - started) / 1e6 / ITERATIONS);
        if (!tally.failures.isEmpty()) {
            fail(tally.failures.size() + " of " + ITERATIONS + " damaged " + format + " inputs were not refused"
                    + " clearly or loaded exactly (inputs in " + FINDINGS.toAbsolutePath() + "):\n  "
                    + String.join("\n  ", tally.failures.subList(0, Math.min(25, tally.failures.size()))));
        }
        assertTrue(tally.total(Outcome.REFUSED) > ITERATIONS / 5, "the damage is mostly refused: " + tally.table());
    }

    private static final String INDEX = "model.safetensors.index.json";
    /**
     * At most this many FIFO shards per run (2, or one per 1,000 inputs): should the regular-file
     * check before opening a shard go, each one blocks the load and costs the watchdog's 5 s.
     */
    private static final int MAX_FIFOS = Math.max(2, ITERATIONS / 1000);

    /** Runs one load under the watchdog and classifies how it ended. */
    static Verdict watch(Callable<Verdict> load, Path dir, Seed seed) {
        Future<Verdict> future = watchdog.submit(load);
        try {
            return future.get(WATCHDOG_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            future.cancel(true);
            watchdog.shutdownNow();
            watchdog = newWatchdog();
            return new Verdict(Outcome.HANG, "no answer within " + WATCHDOG_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Error) {
                return new Verdict(Outcome.CRASH, describe(cause));
            }
            if ((cause instanceof IOException || cause instanceof IllegalArgumentException)
                    && cause.getMessage() != null && !cause.getMessage().isBlank()) {
                return new Verdict(Outcome.REFUSED, cause.getMessage());
            }
            return new Verdict(Outcome.UNCLEAR_REFUSAL, describe(cause));
        }
    }

    private static String describe(Throwable t) {
        StackTraceElement[] trace = t.getStackTrace();
        return t.getClass().getName() + ": " + firstLine(t.getMessage()) + (trace.length > 0 ? " at " + trace[0] : "");
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "null";
        }
        String line = s.lines().findFirst().orElse("");
        return line.length() > 200 ? line.substring(0, 200) + "..." : line;
    }

    private static boolean namesTheInput(String message, Path dir, Seed seed) {
        return message.contains(dir.getParent().getFileName().toString())
                || seed.files().keySet().stream().anyMatch(message::contains);
    }

    /** Keeps a damaged input that needs a look under {@link #FINDINGS}. */
    private static void keep(Path dir, String format, int i, Damage damage, Seed seed, Verdict v, String what)
            throws IOException {
        Path out = FINDINGS.resolve(format.replaceAll("[^a-z]+", "-")).resolve(i + "-" + damage);
        deleteTree(out);
        Files.createDirectories(out);
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                if (Files.isRegularFile(f)) {
                    Files.copy(f, out.resolve(f.getFileName()));
                }
            }
        }
        Files.writeString(out.resolve("FINDING.txt"), what + "\n" + v.outcome() + ": " + v.note() + "\nseed: "
                + seed.name() + "\n");
    }

    // ------------------------------------------------------------------ the regression corpus

    /**
     * Replays {@code fuzz-corpus/}: inputs that found bugs, each a folder with the damaged files and
     * a {@code case.properties} naming the format, the seed whose other files complete the input,
     * and, for a known hole, {@code hole=<key of a Hole>} (replayed only under {@code
     * -Dfuzz.strictKnownHoles=<key>} or {@code =true}). Each must be refused with a message that
     * names the file, or load exactly.
     */
    @Test
    void regressionCorpusIsRefusedOrLoadsExactly(@TempDir Path tmp) throws Exception {
        Path corpus = Path.of("src/test/resources/fuzz-corpus");
        List<Path> cases;
        try (Stream<Path> list = Files.list(corpus)) {
            cases = list.filter(Files::isDirectory).sorted().toList();
        }
        assertTrue(!cases.isEmpty(), "the corpus has cases");
        Map<String, Seed> seeds = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        int replayed = 0;
        for (Path c : cases) {
            Properties p = new Properties();
            try (InputStream in = Files.newInputStream(c.resolve("case.properties"))) {
                p.load(in);
            }
            if (p.getProperty("hole") != null && !Hole.of(p.getProperty("hole")).strict()) {
                System.out.println("[fuzz corpus] " + c.getFileName() + ": known hole " + p.getProperty("hole")
                        + ", replayed under -Dfuzz.strictKnownHoles=" + p.getProperty("hole"));
                continue;
            }
            String format = p.getProperty("format");
            Seed seed = seeds.computeIfAbsent(format + "/" + p.getProperty("seed"), k -> corpusSeed(format,
                    p.getProperty("seed"), tmp));
            Path dir = Files.createDirectories(tmp.resolve("input-corpus").resolve(c.getFileName().toString()));
            write(dir, seed.files());
            String damaged = p.getProperty("patch.file");
            try (Stream<Path> files = Files.list(c)) {
                for (Path f : files.toList()) {
                    String name = f.getFileName().toString();
                    if (!name.equals("case.properties") && !name.equals("README.md")) {
                        Files.copy(f, dir.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                        damaged = name;
                    }
                }
            }
            if (p.getProperty("patch.file") != null) {
                Files.write(dir.resolve(damaged), patch(Files.readAllBytes(dir.resolve(damaged)), p));
            }
            Damage damage = Damage.valueOf(p.getProperty("damage"));
            Applied applied = new Applied(damaged, damage, new Mutation(Files.readAllBytes(dir.resolve(damaged)),
                    Boolean.parseBoolean(p.getProperty("dataChanged", "false")), "corpus"));
            Verdict v = watch(() -> loader(format).load(dir, seed, applied), dir, seed);
            System.out.println("[fuzz corpus] " + c.getFileName() + ": " + v.outcome() + " " + firstLine(v.note()));
            if (v.outcome() != Outcome.REFUSED && v.outcome() != Outcome.IDENTICAL) {
                problems.add(c.getFileName() + ": " + v.outcome() + " " + v.note());
            } else if (v.outcome() == Outcome.REFUSED && !namesTheInput(v.note(), dir, seed)) {
                problems.add(c.getFileName() + ": refused without naming the file: " + v.note());
            }
            replayed++;
        }
        assertEquals(List.of(), problems, "corpus cases not refused or loaded exactly");
        assertTrue(replayed > 0, "some corpus cases replayed");
    }

    /**
     * A seed file patched as a corpus case says: {@code patch.at} and {@code patch.hex} (bytes
     * written at an offset), {@code patch.find} and {@code patch.replace} (text of the same length),
     * {@code patch.renameChecksumKey=true} (the last letter of the file's checksum key upper-cased,
     * whichever its format: {@link SafeTensors#CHECKSUM_KEY} in format 2, {@link
     * SafeTensors#DATA_CHECKSUM_KEY} in format 1; the checksum itself is left as it is), {@code
     * patch.flipFromEnd} (the lowest bit of the byte that many bytes before the end).
     */
    private static byte[] patch(byte[] bytes, Properties p) {
        byte[] out = bytes.clone();
        if (Boolean.parseBoolean(p.getProperty("patch.renameChecksumKey"))) {
            String key = checksumKey(out);
            assertTrue(key != null, "patch.renameChecksumKey: the seed file has a checksum");
            String quoted = '"' + key + '"';
            String text = new String(out, StandardCharsets.ISO_8859_1);
            int at = text.indexOf(quoted);
            assertTrue(at >= 0 && text.indexOf(quoted, at + 1) < 0, "the checksum key appears once: " + key);
            int last = at + key.length(); // the key's last letter, after the opening quote
            out[last] = (byte) Character.toUpperCase((char) out[last]);
        }
        if (p.getProperty("patch.at") != null) {
            byte[] hex = java.util.HexFormat.of().parseHex(p.getProperty("patch.hex"));
            System.arraycopy(hex, 0, out, Integer.parseInt(p.getProperty("patch.at")), hex.length);
        }
        if (p.getProperty("patch.find") != null) {
            String text = new String(out, StandardCharsets.ISO_8859_1);
            int at = text.indexOf(p.getProperty("patch.find"));
            assertTrue(at >= 0, "patch.find " + p.getProperty("patch.find"));
            byte[] replace = p.getProperty("patch.replace").getBytes(StandardCharsets.ISO_8859_1);
            System.arraycopy(replace, 0, out, at, replace.length);
        }
        if (p.getProperty("patch.flipFromEnd") != null) {
            out[out.length - Integer.parseInt(p.getProperty("patch.flipFromEnd"))] ^= 1;
        }
        return out;
    }

    private static Loader loader(String format) {
        return switch (format) {
            case "checkpoint", "sharded" -> HostileFilesFuzzTest::loadCheckpoint;
            case "config" -> HostileFilesFuzzTest::loadConfig;
            case "tokenizer" -> HostileFilesFuzzTest::loadTokenizer;
            case "generation-config" -> HostileFilesFuzzTest::loadGenerationConfig;
            default -> throw new IllegalArgumentException("corpus format " + format);
        };
    }

    private static Seed corpusSeed(String format, String name, Path tmp) {
        try {
            switch (format) {
                case "checkpoint" -> {
                    // "<folder>", "<folder> resaved" (format 2) or "<folder> resaved format-1"
                    String folder = name.split(" ")[0];
                    Path dir = folder.startsWith("xlstm-") ? MODELS.resolve(folder) : REFERENCE.resolve(folder);
                    Map<String, byte[]> files = name.contains(" resaved")
                            ? resaved(dir, tmp.resolve("corpus-" + name.replace(' ', '-')))
                            : files(dir, "config.json", "model.safetensors");
                    return checkpointSeed(name, name.endsWith(" format-1") ? formatOne(files) : files);
                }
                case "sharded" -> {
                    return checkpointSeed(name, shard(REFERENCE.resolve(name), tmp.resolve("corpus-" + name), true));
                }
                case "config" -> {
                    Path dir = name.startsWith("xlstm-") ? MODELS.resolve(name) : REFERENCE.resolve(name);
                    return new Seed(name, files(dir, "config.json"), Map.of("config.json", Kind.JSON),
                            XLstmConfig.read(dir.resolve("config.json")));
                }
                case "tokenizer" -> {
                    Path file = MODELS.resolve(name).resolve("tokenizer.json");
                    try (HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(file)) {
                        long[] ids = codec.encode(PROBE);
                        return new Seed(name, files(file.getParent(), "tokenizer.json"), Map.of("tokenizer.json",
                                Kind.JSON), new TokenizerReference(codec.vocabularySize(), codec.endOfText(), ids,
                                codec.decode(ids)));
                    }
                }
                case "generation-config" -> {
                    Path dir = MODELS.resolve(name);
                    return new Seed(name, files(dir, "generation_config.json"), Map.of("generation_config.json",
                            Kind.JSON), GenerationArguments.read(dir, Map.of(), EOT).config());
                }
                default -> throw new IllegalArgumentException("corpus format " + format);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ------------------------------------------------------------------ files

    private static Map<String, byte[]> files(Path dir, String... names) throws IOException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (String n : names) {
            out.put(n, Files.readAllBytes(dir.resolve(n)));
        }
        return out;
    }

    /** The checkpoint of {@code dir} loaded and saved again by this library (with its checksum). */
    private static Map<String, byte[]> resaved(Path dir, Path out) throws IOException {
        try (NDManager scope = manager.newSubManager()) {
            UpstreamCheckpoint.save(UpstreamCheckpoint.load(dir, scope), out);
        }
        return files(out, "config.json", "model.safetensors");
    }

    /**
     * The checkpoint files with {@code model.safetensors} rewritten as format 1 of this library's
     * writer: {@link SafeTensors#FORMAT_KEY} and {@link SafeTensors#CHECKSUM_KEY} replaced by {@link
     * SafeTensors#DATA_CHECKSUM_KEY}, the CRC32C of the tensor data, recomputed.
     */
    static Map<String, byte[]> formatOne(Map<String, byte[]> files) {
        Map<String, byte[]> out = new LinkedHashMap<>(files);
        byte[] file = files.get("model.safetensors");
        JsonObject header = FileMutator.header(file);
        JsonObject metadata = header.has("__metadata__") ? header.getAsJsonObject("__metadata__") : new JsonObject();
        metadata.remove(SafeTensors.FORMAT_KEY);
        metadata.remove(SafeTensors.CHECKSUM_KEY);
        int dataStart = (int) (8 + FileMutator.headerLength(file));
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(file, dataStart, file.length - dataStart);
        metadata.addProperty(SafeTensors.DATA_CHECKSUM_KEY, String.format(java.util.Locale.ROOT, "%08x", crc.getValue()));
        header.add("__metadata__", metadata);
        out.put("model.safetensors", FileMutator.withHeader(file, header));
        return out;
    }

    /**
     * The checkpoint of {@code dir} as a Hugging Face sharded checkpoint: two shards written by
     * {@link SafeTensors#save} (with or without their checksum) and {@code
     * model.safetensors.index.json}.
     */
    private static Map<String, byte[]> shard(Path dir, Path out, boolean checksummed) throws IOException {
        Files.createDirectories(out);
        Map<String, byte[]> files = files(dir, "config.json");
        JsonObject weightMap = new JsonObject();
        try (NDManager scope = manager.newSubManager()) {
            Map<String, NDArray> all = SafeTensors.load(dir.resolve("model.safetensors"), scope);
            List<String> names = new ArrayList<>(all.keySet());
            for (int s = 0; s < 2; s++) {
                String shard = String.format("model-%05d-of-00002.safetensors", s + 1);
                Map<String, NDArray> part = new LinkedHashMap<>();
                for (String n : names.subList(s * names.size() / 2, (s + 1) * names.size() / 2)) {
                    part.put(n, all.get(n));
                    weightMap.addProperty(n, shard);
                }
                SafeTensors.save(out.resolve(shard), part, Map.of("format", "pt"));
                byte[] bytes = Files.readAllBytes(out.resolve(shard));
                if (!checksummed) { // as another writer's shard: no key of ours
                    JsonObject header = FileMutator.header(bytes);
                    JsonObject metadata = header.getAsJsonObject("__metadata__");
                    List.of(SafeTensors.FORMAT_KEY, SafeTensors.CHECKSUM_KEY, SafeTensors.DATA_CHECKSUM_KEY)
                            .forEach(metadata::remove);
                    bytes = FileMutator.withHeader(bytes, header);
                    assertEquals(null, checksumKey(bytes), shard + " without a checksum");
                }
                files.put(shard, bytes);
            }
        }
        JsonObject index = new JsonObject();
        JsonObject metadata = new JsonObject();
        metadata.addProperty("total_size", files.values().stream().mapToLong(b -> b.length).sum());
        index.add("metadata", metadata);
        index.add("weight_map", weightMap);
        files.put(INDEX, index.toString().getBytes(StandardCharsets.UTF_8));
        return files;
    }

    /** A JSON config as YAML. */
    private static byte[] yaml(byte[] json) {
        Object tree = new com.google.gson.Gson().fromJson(new String(json, StandardCharsets.UTF_8), Object.class);
        DumperOptions options = new DumperOptions();
        options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        return new Yaml(options).dump(tree).getBytes(StandardCharsets.UTF_8);
    }

    private static void write(Path dir, Map<String, byte[]> files) throws IOException {
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            Files.write(dir.resolve(f.getKey()), f.getValue());
        }
    }

    private static void mkfifo(Path file) throws IOException {
        try {
            Process p = new ProcessBuilder("mkfifo", file.toString()).inheritIO().start();
            if (p.waitFor() != 0) {
                throw new IOException("mkfifo " + file + " failed");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    /** Opens and closes every FIFO of {@code dir} for writing, so a reader stuck opening one goes on. */
    private static void unblock(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                if (!Files.isRegularFile(f) && !Files.isDirectory(f)) {
                    Thread t = new Thread(() -> {
                        try (FileOutputStream out = new FileOutputStream(f.toFile())) {
                            out.flush();
                        } catch (IOException e) {
                            // nobody to unblock
                        }
                    }, "fuzz-unblock");
                    t.setDaemon(true);
                    t.start();
                }
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static Map<String, float[]> weights(XLstmLanguageModel model) {
        Map<String, float[]> out = new TreeMap<>();
        model.getParameters().forEach(p -> out.put(p.getKey(), p.getValue().getArray().toFloatArray()));
        return out;
    }

    private static List<float[]> floats(GenerationSession s) {
        List<float[]> out = new ArrayList<>();
        for (NDArray a : s.state().toNDList()) {
            out.add(a.toFloatArray());
        }
        return out;
    }

}
