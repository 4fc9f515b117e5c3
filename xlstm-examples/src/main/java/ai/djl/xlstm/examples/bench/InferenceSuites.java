package ai.djl.xlstm.examples.bench;

import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationSession;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.generate.TokenListener;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The prefill and decode suites: the model through its {@link Generator}, as {@code xlstm
 * generate} and the zoo's translators run it, on random token ids (the speed does not depend on
 * the text).
 */
public final class InferenceSuites {

    private InferenceSuites() {}

    /**
     * Prefill: a new session reads a random prompt of each {@code --prefill-lengths} length in
     * segments of {@code --prefill-segment} tokens; {@code --warmup} untimed then {@code --repeats}
     * timed runs. The tensor count comes from one more run under a {@link TensorCounter} (a lower
     * bound: the chunkwise kernel's own scopes are not seen).
     *
     * @param ctx the model under test
     * @param limits the roofline
     */
    public static void prefill(BenchContext ctx, Roofline.Limits limits) {
        BenchSettings s = ctx.settings();
        Generator generator = ctx.generator();
        int vocab = ctx.model().getConfig().vocabSize();
        int segment = Math.min(s.prefillSegment(), Generator.MAX_PREFILL_SEGMENT);
        SplittableRandom random = new SplittableRandom(s.seed());
        for (int length : s.prefillLengths()) {
            long[] ids = random.longs(length, 0, vocab).toArray();
            Runnable run = () -> {
                try (GenerationSession session = generator.newSession()) {
                    generator.prefill(session, ids, segment);
                }
            };
            MemoryProbe probe = MemoryProbe.start();
            Stats t = Stats.time(s.warmup(), s.repeats(), run);
            Double ops = null;
            try (TensorCounter counter = TensorCounter.open()) {
                if (counter != null) {
                    run.run();
                    ops = (double) counter.count();
                }
            }
            ctx.sink().accept(ctx.measurement(Suite.PREFILL, "generator").batch(1).seqLen(length).tokens((long) length)
                    .seconds(t).memory(probe).opsPerStep(ops)
                    .roofline(limits, ctx.cost().prefillWeightBytes(length, segment),
                            ctx.cost().prefillFlops(length, segment))
                    .note("segments of " + segment + " tokens; ops: a lower bound (not counted inside the"
                            + " chunkwise kernel's per-chunk scopes)")
                    .build());
        }
    }

    /**
     * Decode: for each batch size B and position P, B random prompts of P tokens, then greedy
     * decoding of {@code --decode-warmup + --decode-steps + 2} tokens each as one batch ({@link
     * Generator#generateBatchIds}); the time of each step is the interval between the first
     * sequence's consecutive tokens. The first step (which also gathers the batch's state) and
     * {@code --decode-warmup} steps are not timed, and a few seconds of batch-1 generation warm the
     * JIT up before any of it ({@link #warmUpDecode}). The tensor count is
     * the median per step of a short separate generation under a {@link TensorCounter}.
     *
     * @param ctx the model under test
     * @param limits the roofline
     */
    public static void decode(BenchContext ctx, Roofline.Limits limits) {
        BenchSettings s = ctx.settings();
        Generator generator = ctx.generator();
        int vocab = ctx.model().getConfig().vocabSize();
        SplittableRandom random = new SplittableRandom(s.seed() + 1);
        // token 0 comes from the prompt's logits; interval 0 (to token 1) also builds the batch's state
        int intervals = 1 + s.decodeWarmup() + s.decodeSteps();
        GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(intervals + 1).build();
        warmUpDecode(generator, vocab, random);
        for (int batch : s.batches()) {
            Double ops = decodeOps(generator, batch, vocab, random);
            for (int position : s.positions()) {
                List<long[]> prompts = new ArrayList<>();
                for (int b = 0; b < batch; b++) {
                    prompts.add(random.longs(position, 0, vocab).toArray());
                }
                long[] stamps = new long[intervals + 1];
                int[] seen = {0};
                TokenListener listener = token -> {
                    if (token.sequence() == 0 && seen[0] < stamps.length) {
                        stamps[seen[0]++] = System.nanoTime();
                    }
                };
                MemoryProbe probe = MemoryProbe.start();
                generator.generateBatchIds(prompts, greedy, listener);
                if (seen[0] != stamps.length) {
                    throw new IllegalStateException("decode stopped after " + seen[0] + " of " + stamps.length + " tokens");
                }
                double[] seconds = new double[s.decodeSteps()];
                for (int i = 0; i < seconds.length; i++) {
                    int step = 1 + s.decodeWarmup() + i; // the interval from token step to token step + 1
                    seconds[i] = (stamps[step + 1] - stamps[step]) / 1e9;
                }
                ctx.sink().accept(ctx.measurement(Suite.DECODE, "generator").batch(batch).seqLen(position)
                        .tokens((long) batch).seconds(Stats.of(seconds)).memory(probe).opsPerStep(ops)
                        .roofline(limits, ctx.cost().decodeWeightBytes(batch), ctx.cost().decodeFlops(batch))
                        .note("greedy; timed steps feed positions " + (position + 1 + s.decodeWarmup()) + "-"
                                + (position + intervals - 1) + " (0-based) after " + (1 + s.decodeWarmup())
                                + " untimed steps")
                        .build());
            }
        }
    }

    /**
     * Batch-1 generations of 64 tokens for {@link #DECODE_WARMUP_SECONDS} (at most 50 of them), so
     * that the JIT has compiled the decode path before any step is timed: the CPU decode step's
     * Vector API kernels run hundreds of times slower until C2 compiles them, which takes a few
     * hundred tokens, far more than {@code --decode-warmup}'s steps.
     */
    private static void warmUpDecode(Generator generator, int vocab, SplittableRandom random) {
        GenerationConfig config = GenerationConfig.builder().maxNewTokens(64).build();
        long end = System.nanoTime() + (long) (DECODE_WARMUP_SECONDS * 1e9);
        for (int round = 0; round < 50 && System.nanoTime() < end; round++) {
            generator.generate(random.longs(8, 0, vocab).toArray(), config);
        }
    }

    /** How long {@link #warmUpDecode} runs, at most. */
    static final double DECODE_WARMUP_SECONDS = 3;

    /** The median number of tensors one decode step of {@code batch} sequences creates, or null. */
    private static Double decodeOps(Generator generator, int batch, int vocab, SplittableRandom random) {
        int tokens = 8;
        long[] counts = new long[tokens];
        int[] seen = {0};
        try (TensorCounter counter = TensorCounter.open()) {
            if (counter == null) {
                return null;
            }
            List<long[]> prompts = new ArrayList<>();
            for (int b = 0; b < batch; b++) {
                prompts.add(random.longs(4, 0, vocab).toArray());
            }
            generator.generateBatchIds(prompts, GenerationConfig.builder().maxNewTokens(tokens).build(), t -> {
                if (t.sequence() == 0 && seen[0] < counts.length) {
                    counts[seen[0]++] = counter.count();
                }
            });
        }
        // intervals 1 to 6 (interval 0 also gathers the batch's state)
        double[] perStep = new double[tokens - 2];
        for (int i = 0; i < perStep.length; i++) {
            perStep[i] = counts[i + 2] - counts[i + 1];
        }
        Arrays.sort(perStep);
        return perStep[perStep.length / 2];
    }
}
