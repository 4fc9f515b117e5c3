package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.examples.bench.BenchConfigs;
import ai.djl.xlstm.examples.bench.BenchContext;
import ai.djl.xlstm.examples.bench.BenchDtype;
import ai.djl.xlstm.examples.bench.BenchReport;
import ai.djl.xlstm.examples.bench.BenchRunner;
import ai.djl.xlstm.examples.bench.BenchSettings;
import ai.djl.xlstm.examples.bench.Machine;
import ai.djl.xlstm.examples.bench.Measurement;
import ai.djl.xlstm.examples.bench.ModelCost;
import ai.djl.xlstm.examples.bench.Suite;
import ai.djl.xlstm.examples.bench.TensorCounter;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.model.XLstmLanguageModel;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * {@code xlstm bench}: the benchmark harness (see {@code docs/benchmarks.md}). Measures the model
 * of {@code --model}, {@code --model-path} or {@code --config} (random weights) in the suites of
 * {@code --suite}, against this machine's bandwidth and matmul speed measured in the same run;
 * prints one line per measurement (one JSON object per line with {@code --json}) and with {@code
 * --out} writes Markdown tables, PNG plots and the JSON lines.
 */
@Command(name = "bench", sortOptions = false,
        description = {"Measure prefill, decode and training speed against this machine's measured limits (roofline),"
                + " and time and memory over long sequences against a Transformer and an LSTM.",
                "See docs/benchmarks.md for the suites, the formulas and every JSON field."})
final class BenchCommand implements java.util.concurrent.Callable<Integer> {

    @Mixin
    private ModelSource source;

    @Option(names = "--config", paramLabel = "FILE|NAME", description = "measure a model with random weights built from a"
            + " config file, or from a bundled configuration: neurips-7.5m, large-27.7m, xlstm-7b-slice")
    private String config;

    @Option(names = "--suite", split = ",", paramLabel = "SUITE", defaultValue = "prefill,decode",
            description = "prefill, decode, train, scaling, roofline or all, comma-separated (default: ${DEFAULT-VALUE});"
                    + " the roofline is measured whenever prefill, decode or train runs")
    private List<String> suites;

    @Option(names = "--dtype", paramLabel = "TYPE", defaultValue = "f32",
            description = "weight type: f32, f16 or bf16 (default: ${DEFAULT-VALUE}; the model path runs f32 only so far)")
    private String dtype;

    @Option(names = "--json", description = "print one JSON object per measurement and nothing else")
    private boolean json;

    @Option(names = "--out", paramLabel = "DIR", description = "write bench.md, bench.jsonl and PNG plots into DIR")
    private Path out;

    @Option(names = "--batch", split = ",", paramLabel = "B", defaultValue = "1,8,32",
            description = "decode batch sizes (default: ${DEFAULT-VALUE})")
    private List<Integer> batches;

    @Option(names = "--positions", split = ",", paramLabel = "P", defaultValue = "100,10000",
            description = "decode positions: prompt tokens before the timed steps (default: ${DEFAULT-VALUE})")
    private List<Integer> positions;

    @Option(names = "--decode-steps", paramLabel = "N", defaultValue = "64",
            description = "timed decode steps per batch size and position (default: ${DEFAULT-VALUE})")
    private int decodeSteps;

    @Option(names = "--decode-warmup", paramLabel = "N", defaultValue = "16",
            description = "untimed decode steps before them (default: ${DEFAULT-VALUE})")
    private int decodeWarmup;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "1",
            description = "untimed runs before the timed ones (default: ${DEFAULT-VALUE})")
    private int warmup;

    @Option(names = "--repeats", paramLabel = "N", defaultValue = "5",
            description = "timed runs of prefill, train and roofline (default: ${DEFAULT-VALUE})")
    private int repeats;

    @Option(names = "--prefill-lengths", split = ",", paramLabel = "S", defaultValue = "2048",
            description = "prompt lengths of the prefill suite (default: ${DEFAULT-VALUE})")
    private List<Integer> prefillLengths;

    @Option(names = "--prefill-segment", paramLabel = "N", defaultValue = "512",
            description = "the most prompt tokens per forward pass, as generation's default (default: ${DEFAULT-VALUE})")
    private int prefillSegment;

    @Option(names = "--train-batch", paramLabel = "B", defaultValue = "8",
            description = "sequences per training step (default: ${DEFAULT-VALUE})")
    private int trainBatch;

    @Option(names = "--train-length", paramLabel = "S", defaultValue = "256",
            description = "tokens per training sequence (default: ${DEFAULT-VALUE})")
    private int trainLength;

    @Option(names = "--lengths", split = ",", paramLabel = "S", defaultValue = "1024,2048,4096,8192,16384,32768,65536",
            description = "sequence lengths of the scaling suite, ascending (default: ${DEFAULT-VALUE})")
    private List<Integer> lengths;

    @Option(names = "--time-budget", paramLabel = "SECONDS", defaultValue = "60",
            description = "the scaling suite skips a model at lengths where one run would take longer (default: ${DEFAULT-VALUE})")
    private double timeBudget;

    @Option(names = "--memory-budget", paramLabel = "GIB",
            description = "no run starts whose estimated memory is larger (default: half the physical memory)")
    private Double memoryBudgetGib;

    @Option(names = "--bandwidth-mb", paramLabel = "MIB",
            description = "size of the matrix of the bandwidth measurement (default: 4 x the last-level cache, at least 256)")
    private Integer bandwidthMib;

    @Option(names = "--matmul-rows", paramLabel = "M", defaultValue = "512",
            description = "rows of the matmul measurement at the model's weight shapes (default: ${DEFAULT-VALUE})")
    private int matmulRows;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "seed of the random tokens and weights")
    private long seed;

    @Mixin
    private DeviceOptions engine;

    @Override
    public Integer call() throws IOException {
        Device device = engine.device();
        BenchDtype type = BenchDtype.parse(dtype);
        type.requireSupported();
        BenchSettings.Builder b = BenchSettings.builder().suites(Suite.parse(suites)).batches(batches).positions(positions)
                .decodeSteps(decodeSteps).decodeWarmup(decodeWarmup).warmup(warmup).repeats(repeats)
                .prefillLengths(prefillLengths).prefillSegment(prefillSegment).trainBatch(trainBatch)
                .trainLength(trainLength).scalingLengths(lengths).timeBudgetSeconds(timeBudget).matmulRows(matmulRows)
                .seed(seed);
        if (memoryBudgetGib != null) {
            if (!(memoryBudgetGib > 0 && memoryBudgetGib < 1 << 20)) {
                throw new IllegalArgumentException("--memory-budget must be > 0 GiB, got " + memoryBudgetGib);
            }
            b.memoryBudgetBytes((long) (memoryBudgetGib * (1L << 30)));
        }
        if (bandwidthMib != null) {
            if (bandwidthMib < 1 || bandwidthMib > 1 << 20) {
                throw new IllegalArgumentException("--bandwidth-mb must be in [1, 1048576], got " + bandwidthMib);
            }
            b.bandwidthBytes((long) bandwidthMib << 20);
        }
        BenchSettings settings = b.build();
        if (type != BenchDtype.F32 && (settings.suites().contains(Suite.TRAIN) || settings.suites().contains(Suite.SCALING))) {
            throw new IllegalArgumentException("--dtype " + type.label() + " runs the inference suites (roofline, prefill,"
                    + " decode): training needs float32 weights, and the scaling suite builds float32 cells of its own");
        }
        if (config != null && (source.name != null || source.path != null)) {
            throw new IllegalArgumentException("give one of --config, --model and --model-path");
        }
        try (Target target = config != null ? fromConfig(device, settings, type) : fromFolder(device, type)) {
            XLstmLanguageModel model = target.model();
            ModelCost cost = ModelCost.of(model, target.manager(), type);
            List<String> header = header(target, cost, type, settings);
            if (!json) {
                header.forEach(System.out::println);
            }
            List<Measurement> rows = new ArrayList<>();
            Consumer<Measurement> sink = m -> {
                rows.add(m);
                System.out.println(json ? m.toJsonLine() : BenchReport.consoleLine(m));
                System.out.flush();
            };
            BenchRunner.run(new BenchContext(target.name(), type, model, target.generator(), target.manager(), cost,
                    settings, sink));
            if (out != null) {
                List<Path> files = BenchReport.write(out, header, rows);
                if (!json) {
                    System.out.println("wrote " + files);
                }
            }
        }
        return 0;
    }

    /** The model under test, with what closes it. */
    private record Target(String name, XLstmLanguageModel model, Generator generator, NDManager manager,
            AutoCloseable owner) implements AutoCloseable {
        @Override
        public void close() {
            try {
                owner.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing the model failed: " + e.getMessage(), e);
            }
        }
    }

    private Target fromFolder(Device device, BenchDtype type) throws IOException {
        ModelFolder folder = ModelFolder.openWithoutTokenizer(source, device, type.weightsArgument());
        return new Target(source.describe(), folder.model(), folder.generator(), folder.manager(), folder);
    }

    private Target fromConfig(Device device, BenchSettings settings, BenchDtype type) throws IOException {
        XLstmConfig c = BenchConfigs.resolve(config);
        long bytes = (long) type.bytes() * c.parameterCount();
        if (bytes > settings.memoryBudgetBytes()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "--config %s: the model's %,d parameters need %s as %s, over the memory budget of %s"
                            + " (--memory-budget)", config, c.parameterCount(), gib(bytes), type == BenchDtype.F32
                            ? "float32" : "float16", gib(settings.memoryBudgetBytes())));
        }
        NDManager manager = device == null ? NDManager.newBaseManager() : NDManager.newBaseManager(device);
        try {
            Engine.getInstance().setRandomSeed((int) seed);
            XLstmLanguageModel model = XLstmLanguageModel.create(c);
            // float16 weights are initialized as such: never a float32 copy of the model
            model.initialize(manager, type == BenchDtype.F32 ? DataType.FLOAT32 : DataType.FLOAT16, new Shape(1, 1));
            return new Target(config, model, new Generator(model, manager, null), manager, manager);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    private List<String> header(Target target, ModelCost cost, BenchDtype type, BenchSettings s) {
        XLstmConfig c = target.model().getConfig();
        List<String> h = new ArrayList<>();
        h.add("# xlstm bench: " + target.name());
        h.add("");
        h.add(String.format(Locale.ROOT, "- model: %s (%s, %d blocks, embedding %d, vocabulary %,d), %,d parameters,"
                        + " %s of weights as %s%s", target.name(), c.architecture(), c.numBlocks(), c.embeddingDim(),
                c.vocabSize(), cost.parameters(), gib(cost.weightBytes()), type.label(),
                config != null ? ", random weights (seed " + seed + ")" : ""));
        h.add("- machine: " + Machine.describe());
        double load = Machine.loadAverage();
        int cores = Runtime.getRuntime().availableProcessors();
        h.add(String.format(Locale.ROOT, "- load average at the start: %.2f on %d cores%s", load, cores,
                load > cores / 2.0 ? " (a loaded machine: the figures are indicative only)" : ""));
        h.add(String.format(Locale.ROOT, "- engine: %s %s (DJL %s) on %s, engine threads: %s",
                Engine.getInstance().getEngineName(), Engine.getInstance().getVersion(), Engine.getDjlVersion(),
                target.manager().getDevice(), System.getProperty(EngineOptions.NUM_THREADS, "the engine's default")));
        h.add("- run: " + Instant.now().truncatedTo(ChronoUnit.SECONDS) + ", suites " + s.suites().stream().sorted()
                .map(Suite::label).toList() + ", " + s.warmup() + " warm-up and " + s.repeats() + " timed runs; decode "
                + s.decodeWarmup() + " warm-up and " + s.decodeSteps() + " timed steps; memory budget "
                + gib(s.memoryBudgetBytes()) + ", time budget " + s.timeBudgetSeconds() + " s");
        h.add("- tensor counts: " + (TensorCounter.available() ? "every NDArray created on the benchmark thread"
                + " (NDScope registry)" : "not available with this DJL version"));
        return h;
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
}
