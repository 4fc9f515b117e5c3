package ai.djl.xlstm.examples.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.recurrent.LSTM;
import ai.djl.nn.transformer.TransformerEncoderBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.xlstm.internal.MLstmKernels;
import ai.djl.xlstm.model.LmOutput;
import ai.djl.xlstm.state.MLstmCellState;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * The scaling suite: the time and peak memory of one forward pass (inference, batch 1) over each
 * {@code --lengths} length, for
 *
 * <ul>
 *   <li>{@code xlstm}: the whole model from the zero state to the last position's logits, as a
 *       prompt is read ({@code forwardLast}: chunkwise cells, in segments of the model's
 *       inference segment);
 *   <li>{@code mlstm-chunkwise} and {@code mlstm-parallel}: the two sequence forms of one mLSTM
 *       cell at the shape of the model's first mLSTM layer ({@link MLstmKernels}); the model runs
 *       the parallel form only up to 1,024 tokens, so the quadratic form is shown at the cell;
 *   <li>{@code transformer}: a stack of DJL {@link TransformerEncoderBlock}s of the model's width
 *       and depth (its mLSTM head count, feed-forward 4 D) with a causal mask, over random
 *       embeddings; DJL has no KV cache, so this is the cost of reading a prompt once;
 *   <li>{@code lstm}: DJL's {@link LSTM} of the model's width and depth.
 * </ul>
 *
 * <p>Each model runs the lengths in ascending order. A length is skipped (a row with status
 * {@code skipped: over budget ...}) when its estimated memory exceeds {@code --memory-budget},
 * when the time extrapolated from the previous length (linearly, or with the square of the
 * length for the quadratic forms) exceeds {@code --time-budget}, or once a shorter length went
 * over either budget or failed. The first length gets one untimed warm-up run; a length is run
 * {@code --repeats} times when a run takes under a second, else once. Inputs are made before the
 * clock starts; memory is the process's peak during the runs, inputs included.
 */
public final class ScalingSuite {

    private ScalingSuite() {}

    /** One model of the suite. */
    private interface Runner extends AutoCloseable {
        /** The name in the {@code variant} field. */
        String name();

        /** The exponent of the length in the time: 1 (linear) or 2 (quadratic). */
        int exponent();

        /** The estimated peak memory of one run, in bytes. */
        long estimateBytes(long length);

        /** Runs once over {@code length} tokens; returns the seconds of the timed part. */
        double run(int length);

        @Override
        void close();
    }

    /**
     * Runs every model over every length.
     *
     * @param ctx the model under test
     */
    public static void run(BenchContext ctx) {
        int[] cell = ctx.cost().firstMlstmLayer();
        long width = ctx.model().getConfig().embeddingDim();
        long depth = ctx.model().getConfig().numBlocks();
        List<Variant> variants = new ArrayList<>();
        variants.add(new Variant("xlstm", 0, () -> xlstm(ctx)));
        if (cell != null) {
            variants.add(new Variant("mlstm-chunkwise", 0, () -> cell(ctx, cell, false)));
            variants.add(new Variant("mlstm-parallel", 0, () -> cell(ctx, cell, true)));
        }
        variants.add(new Variant("transformer", 4 * depth * 12 * width * width,
                () -> transformer(ctx, cell == null ? 1 : cell[0])));
        variants.add(new Variant("lstm", 4 * depth * 8 * width * width, () -> lstm(ctx)));
        for (Variant v : variants) {
            if (v.weightBytes() > ctx.settings().memoryBudgetBytes()) {
                String reason = String.format(Locale.ROOT, "over budget (memory: %s of weights, budget %s)",
                        Machine.gib(v.weightBytes()), Machine.gib(ctx.settings().memoryBudgetBytes()));
                for (int length : ctx.settings().scalingLengths()) {
                    ctx.sink().accept(ctx.measurement(Suite.SCALING, v.name()).batch(1).seqLen(length)
                            .tokens((long) length).skipped(reason).build());
                }
                continue;
            }
            try (Runner r = v.make().get()) {
                runLengths(ctx, r);
            }
        }
    }

    /** A model of the suite, made only when its turn comes (its weights are allocated then). */
    private record Variant(String name, long weightBytes, Supplier<Runner> make) {}

    private static void runLengths(BenchContext ctx, Runner r) {
        BenchSettings s = ctx.settings();
        String stop = null;
        double lastSeconds = 0;
        int lastLength = 0;
        boolean first = true;
        for (int length : s.scalingLengths()) {
            Measurement.Builder row = ctx.measurement(Suite.SCALING, r.name()).batch(1).seqLen(length)
                    .tokens((long) length);
            if (stop != null) {
                ctx.sink().accept(row.skipped(stop).build());
                continue;
            }
            long estimate = r.estimateBytes(length);
            if (estimate > s.memoryBudgetBytes()) {
                stop = String.format(Locale.ROOT, "over budget (memory: estimated %s at %,d tokens, budget %s)",
                        Machine.gib(estimate), length, Machine.gib(s.memoryBudgetBytes()));
                ctx.sink().accept(row.skipped(stop).build());
                continue;
            }
            if (lastLength > 0) {
                double predicted = lastSeconds * Math.pow((double) length / lastLength, r.exponent());
                if (predicted > s.timeBudgetSeconds()) {
                    stop = String.format(Locale.ROOT, "over budget (time: %.1f s predicted at %,d tokens from %.2f s"
                            + " at %,d, budget %.0f s)", predicted, length, lastSeconds, lastLength, s.timeBudgetSeconds());
                    ctx.sink().accept(row.skipped(stop).build());
                    continue;
                }
            }
            MemoryProbe probe = MemoryProbe.start();
            Stats t;
            try {
                if (first) {
                    r.run(length); // warm-up
                    first = false;
                }
                List<Double> times = new ArrayList<>();
                times.add(r.run(length));
                while (times.get(0) < 1 && times.size() < s.repeats()) {
                    times.add(r.run(length));
                }
                t = Stats.of(times.stream().mapToDouble(Double::doubleValue).toArray());
            } catch (RuntimeException e) {
                stop = "failed at " + length + " tokens: " + (e.getMessage() != null ? e.getMessage() : e.toString());
                ctx.sink().accept(row.memory(probe).skipped(stop).build());
                continue;
            }
            Measurement m = row.seconds(t).memory(probe).note("estimated memory " + Machine.gib(estimate)).build();
            ctx.sink().accept(m);
            lastSeconds = t.median();
            lastLength = length;
            long used = m.peakRssBytes() - m.rssBeforeBytes();
            if (t.median() > s.timeBudgetSeconds()) {
                stop = String.format(Locale.ROOT, "over budget (time: %.1f s at %,d tokens, budget %.0f s)",
                        t.median(), length, s.timeBudgetSeconds());
            } else if (m.peakSinceReset() && m.rssBeforeBytes() >= 0 && used > s.memoryBudgetBytes()) {
                stop = String.format(Locale.ROOT, "over budget (memory: %s at %,d tokens, budget %s)",
                        Machine.gib(used), length, Machine.gib(s.memoryBudgetBytes()));
            }
        }
    }

    /** Seconds since {@code start}, once {@code last} is computed. */
    private static double since(long start, NDArray last) {
        BenchContext.sync(last);
        return (System.nanoTime() - start) / 1e9;
    }

    private static Runner xlstm(BenchContext ctx) {
        ParameterStore ps = new ParameterStore(ctx.manager(), false);
        int vocab = ctx.model().getConfig().vocabSize();
        long width = ctx.model().getConfig().embeddingDim();
        long blocks = ctx.model().getConfig().numBlocks();
        SplittableRandom random = new SplittableRandom(ctx.settings().seed() + 3);
        return new Runner() {
            @Override
            public String name() {
                return "xlstm";
            }

            @Override
            public int exponent() {
                return 1;
            }

            @Override
            public long estimateBytes(long length) {
                long segment = Math.min(length, ctx.model().getInferenceSegment());
                return 8 * length + 4 * 32 * segment * width * blocks;
            }

            @Override
            public double run(int length) {
                long[] ids = random.longs(length, 0, vocab).toArray();
                try (NDManager m = ctx.manager().newSubManager()) {
                    NDArray tokens = m.create(ids).reshape(1, length);
                    long start = System.nanoTime();
                    LmOutput out = ctx.model().forwardLast(ps, tokens, null);
                    return since(start, out.logits());
                }
            }

            @Override
            public void close() {}
        };
    }

    private static Runner cell(BenchContext ctx, int[] dims, boolean parallel) {
        long heads = dims[0];
        long dqk = dims[1];
        long dv = dims[2];
        int chunk = ctx.model().getForm().chunkSize();
        return new Runner() {
            @Override
            public String name() {
                return parallel ? "mlstm-parallel" : "mlstm-chunkwise";
            }

            @Override
            public int exponent() {
                return parallel ? 2 : 1;
            }

            @Override
            public long estimateBytes(long length) {
                long linear = 4 * heads * length * (2 * dqk + 2 * dv + 4) * 2;
                return parallel ? linear + 4 * 10 * heads * length * length : linear + 4 * 8 * heads * chunk * chunk;
            }

            @Override
            public double run(int length) {
                try (NDManager m = ctx.manager().newSubManager()) {
                    NDArray q = m.randomNormal(0, 0.1f, new Shape(1, heads, length, dqk), DataType.FLOAT32);
                    NDArray k = m.randomNormal(0, 0.1f, new Shape(1, heads, length, dqk), DataType.FLOAT32);
                    NDArray v = m.randomNormal(0, 1, new Shape(1, heads, length, dv), DataType.FLOAT32);
                    NDArray i = m.randomNormal(0, 1, new Shape(1, heads, length), DataType.FLOAT32);
                    NDArray f = m.randomNormal(3, 1, new Shape(1, heads, length), DataType.FLOAT32);
                    long start = System.nanoTime();
                    if (parallel) {
                        return since(start, MLstmKernels.parallel(q, k, v, i, f, 1e-6f));
                    }
                    Pair<NDArray, MLstmCellState> out = MLstmKernels.chunkwise(q, k, v, i, f, null, chunk, 1e-6f);
                    return since(start, out.getKey());
                }
            }

            @Override
            public void close() {}
        };
    }

    private static Runner transformer(BenchContext ctx, int modelHeads) {
        int width = ctx.model().getConfig().embeddingDim();
        int depth = ctx.model().getConfig().numBlocks();
        int heads = width % modelHeads == 0 ? modelHeads : 1;
        NDManager weights = ctx.manager().newSubManager();
        ParameterStore ps = new ParameterStore(weights, false);
        List<TransformerEncoderBlock> layers = new ArrayList<>();
        for (int l = 0; l < depth; l++) {
            TransformerEncoderBlock b = new TransformerEncoderBlock(width, heads, 4 * width, 0f, Activation::gelu);
            b.initialize(weights, DataType.FLOAT32, new Shape(1, 8, width));
            layers.add(b);
        }
        return new Runner() {
            @Override
            public String name() {
                return "transformer";
            }

            @Override
            public int exponent() {
                return 2;
            }

            @Override
            public long estimateBytes(long length) {
                return 4 * length * length * (2 + 5L * heads) + 4 * 24 * length * width;
            }

            @Override
            public double run(int length) {
                try (NDManager m = ctx.manager().newSubManager()) {
                    NDArray x = m.randomNormal(new Shape(1, length, width));
                    NDArray positions = m.arange(length);
                    NDArray future = positions.reshape(1, length).gt(positions.reshape(length, 1)); // [S, S]: j > t
                    NDArray mask = future.toType(DataType.FLOAT32, false).mul(-100_000f).reshape(1, 1, length, length);
                    BenchContext.sync(mask);
                    long start = System.nanoTime();
                    for (TransformerEncoderBlock layer : layers) {
                        NDArray y;
                        try (NDScope scope = new NDScope()) { // frees each layer's attention matrices
                            scope.suppressNotUsedWarning();
                            y = layer.forward(ps, new NDList(x, mask), false).singletonOrThrow();
                            NDScope.unregister(y);
                        }
                        x = y;
                    }
                    return since(start, x);
                }
            }

            @Override
            public void close() {
                weights.close();
            }
        };
    }

    private static Runner lstm(BenchContext ctx) {
        int width = ctx.model().getConfig().embeddingDim();
        int depth = ctx.model().getConfig().numBlocks();
        NDManager weights = ctx.manager().newSubManager();
        ParameterStore ps = new ParameterStore(weights, false);
        LSTM lstm = LSTM.builder().setStateSize(width).setNumLayers(depth).optBatchFirst(true).build();
        lstm.initialize(weights, DataType.FLOAT32, new Shape(1, 8, width));
        return new Runner() {
            @Override
            public String name() {
                return "lstm";
            }

            @Override
            public int exponent() {
                return 1;
            }

            @Override
            public long estimateBytes(long length) {
                return 4 * 12L * length * width * depth;
            }

            @Override
            public double run(int length) {
                try (NDManager m = ctx.manager().newSubManager()) {
                    NDArray x = m.randomNormal(new Shape(1, length, width));
                    long start = System.nanoTime();
                    return since(start, lstm.forward(ps, new NDList(x), false).head());
                }
            }

            @Override
            public void close() {
                weights.close();
            }
        };
    }
}
