package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.GenerationSession;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.model.XLstmLanguageModel;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code xlstm bench-generate}: generation throughput of a checkpoint on a device (default: the engine's):
 * prefill tokens/s, decode tokens/s at several batch sizes, and the time per token early and late
 * in a long generation (equal for a recurrent model), with the live NDArray count and resident
 * memory at both points. Token ids are random (the figures do not depend on the text).
 */
@Command(name = "bench-generate", mixinStandardHelpOptions = true, version = XLstmCli.VERSION,
        description = "Measure prefill and decode throughput of a model.")
final class BenchGenerateCommand implements Callable<Integer> {

    @Mixin
    private ModelSource source;

    @Option(names = "--prefill", defaultValue = "4096", description = "prompt tokens for the prefill measurement (default: ${DEFAULT-VALUE})")
    private int prefill;

    @Option(names = "--batch", split = ",", defaultValue = "1,8", description = "decode batch sizes (default: ${DEFAULT-VALUE})")
    private int[] batches;

    // no defaultValue: picocli would apply it after parsing, over a value given as --decode
    @Option(names = {"-n", "--max-new-tokens"}, paramLabel = "N",
            description = "tokens generated per sequence in the decode measurement (default: ${DEFAULT-VALUE});"
                    + " also --decode")
    private int decode = 256;

    @Option(names = "--decode", paramLabel = "N", hidden = true, description = "the former name of --max-new-tokens")
    private void setDecode(int n) {
        decode = n;
    }

    @Option(names = "--long", defaultValue = "10000", description = "tokens of the long generation, 0 to skip (default: ${DEFAULT-VALUE})")
    private int longRun;

    @Mixin
    private DeviceOptions engine;

    @Override
    public Integer call() throws IOException {
        Device device = engine.device();
        try (ModelFolder folder = ModelFolder.openWithoutTokenizer(source, device)) {
            NDManager manager = folder.manager();
            XLstmLanguageModel model = folder.model();
            Generator generator = folder.generator();
            int vocab = model.getConfig().vocabSize();
            SplittableRandom random = new SplittableRandom(0);
            long params = model.getParameters().values().stream().mapToLong(p -> p.getArray().size()).sum();
            System.out.printf(Locale.ROOT, "model %s: %s, %,d parameters, device %s, %d cores, engine threads: %s%n",
                    source.describe(), model.getConfig().architecture(), params, manager.getDevice(),
                    Runtime.getRuntime().availableProcessors(), System.getProperty(EngineOptions.NUM_THREADS, "default"));

            long[] prompt = random.longs(prefill, 0, vocab).toArray();
            for (int round = 0; round < 3; round++) { // the first rounds warm up
                try (GenerationSession s = generator.newSession()) {
                    long start = System.nanoTime();
                    generator.prefill(s, prompt, 512);
                    double seconds = (System.nanoTime() - start) / 1e9;
                    if (round == 2) {
                        System.out.printf(Locale.ROOT, "prefill: %,d tokens in %.2f s = %,.0f tokens/s (segments of 512)%n",
                                prefill, seconds, prefill / seconds);
                    }
                }
            }

            GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(decode).build();
            for (int batch : batches) {
                List<long[]> prompts = new ArrayList<>();
                for (int b = 0; b < batch; b++) {
                    prompts.add(random.longs(16, 0, vocab).toArray());
                }
                generator.generateBatchIds(prompts, greedy, null); // warm-up (the JIT needs a few hundred steps)
                List<GenerationResult> results = generator.generateBatchIds(prompts, greedy, null);
                long nanos = results.stream().mapToLong(GenerationResult::decodeNanos).max().orElse(1);
                long tokens = results.stream().mapToLong(r -> r.tokens().length).sum();
                System.out.printf(Locale.ROOT, "decode batch %d: %,d tokens in %.2f s = %,.1f tokens/s (%.2f ms per step)%n",
                        batch, tokens, nanos / 1e9, tokens * 1e9 / nanos, nanos / 1e6 / decode);
            }

            if (longRun > 0) {
                long[] times = new long[longRun + 1];
                int[] arrays = new int[2];
                long[] rss = new long[2];
                int early = Math.min(100, longRun);
                int[] n = {0};
                times[0] = System.nanoTime();
                generator.generate(random.longs(16, 0, vocab).toArray(), greedy.toBuilder().maxNewTokens(longRun).build(), t -> {
                    int i = ++n[0];
                    times[i] = System.nanoTime();
                    if (i == early || i == longRun) {
                        arrays[i == early ? 0 : 1] = manager.getManagedArrays().size();
                        rss[i == early ? 0 : 1] = residentKb();
                    }
                });
                System.out.printf(Locale.ROOT,
                        "long generation of %,d tokens: time per token (p50/p90/max) %s at positions %d-%d, %s at %d-%d;"
                                + " live NDArrays %d vs %d; resident memory %,d kB vs %,d kB%n",
                        longRun, percentiles(times, Math.max(1, early - 50), early + 50), Math.max(1, early - 50), early + 50,
                        percentiles(times, longRun - 100, longRun), longRun - 100, longRun, arrays[0], arrays[1], rss[0], rss[1]);

                // The same comparison without drift (JIT, other load): two sessions, one 100 tokens in and one
                // longRun tokens in, decoding alternately one token at a time.
                GenerationConfig one = greedy.toBuilder().maxNewTokens(1).build();
                try (GenerationSession near = generator.newSession(); GenerationSession far = generator.newSession()) {
                    generator.prefill(near, random.longs(100, 0, vocab).toArray(), 512);
                    generator.prefill(far, random.longs(longRun, 0, vocab).toArray(), 512);
                    int rounds = 300;
                    long[] nearTimes = new long[rounds + 1];
                    long[] farTimes = new long[rounds + 1];
                    for (int i = 0; i < rounds; i++) {
                        long t0 = System.nanoTime();
                        generator.generate(near, new long[0], one, null);
                        long t1 = System.nanoTime();
                        generator.generate(far, new long[0], one, null);
                        long t2 = System.nanoTime();
                        nearTimes[i + 1] = nearTimes[i] + (t1 - t0);
                        farTimes[i + 1] = farTimes[i] + (t2 - t1);
                    }
                    System.out.printf(Locale.ROOT, "alternating single tokens (%d each): per token (p50/p90/max) %s at position"
                            + " %d, %s at position %,d%n", rounds, percentiles(nearTimes, 0, rounds), 100,
                            percentiles(farTimes, 0, rounds), longRun);
                }
            }
        }
        return 0;
    }

    /** The p50/p90/max of the per-token times between tokens {@code from} and {@code to}, in ms. */
    private static String percentiles(long[] times, int from, int to) {
        int hi = Math.min(to, times.length - 1);
        long[] d = new long[Math.max(0, hi - from)];
        for (int i = from; i < hi; i++) {
            d[i - from] = times[i + 1] - times[i];
        }
        if (d.length == 0) {
            return "n/a";
        }
        Arrays.sort(d);
        return String.format(Locale.ROOT, "%.2f/%.2f/%.2f ms", d[d.length / 2] / 1e6, d[d.length * 9 / 10] / 1e6,
                d[d.length - 1] / 1e6);
    }

    private static long residentKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
