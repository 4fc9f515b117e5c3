package ai.djl.xlstm.examples.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * The roofline suite: this machine's limits, measured in the same run as the suites that are
 * compared with them.
 *
 * <ul>
 *   <li>Bandwidth: a float32 weight {@code W [N, K]} of {@code --bandwidth-mb} (default four times
 *       the last-level cache, at least 256 MiB) times a vector {@code x [1, K]}, through libtorch's
 *       {@code linear} as the model's layers call it, repeated; bytes per second = {@code N K 4 /
 *       fastest time}. Decode at batch 1 is exactly this kind of work.
 *   <li>Matmul: {@code x [M, in]} times each of the model's distinct weight shapes {@code [out,
 *       in]} (the six largest by work), {@code 2 M in out / fastest time}. The compute limit is the
 *       best of these: the most this machine did at the model's own shapes.
 * </ul>
 *
 * <p>A limit is the best run, not the median: it is what the machine can do (the rows report the
 * median and the spread as well), and it keeps every fraction of the roofline conservative.
 */
public final class Roofline {

    /** The most weight shapes the matmul measurement times. */
    static final int MAX_SHAPES = 6;

    private Roofline() {}

    /**
     * The measured limits.
     *
     * @param bytesPerSecond the matrix-vector bandwidth
     * @param gflopPerSecond the best matmul speed at the model's shapes
     */
    public record Limits(double bytesPerSecond, double gflopPerSecond) {

        /** Checks that both limits are positive and finite. */
        public Limits {
            if (!(bytesPerSecond > 0 && Double.isFinite(bytesPerSecond) && gflopPerSecond > 0
                    && Double.isFinite(gflopPerSecond))) {
                throw new IllegalArgumentException("limits must be positive: " + bytesPerSecond + " B/s, "
                        + gflopPerSecond + " GFLOP/s");
            }
        }
    }

    /**
     * Measures the bandwidth and the matmul speed, reporting each as a measurement.
     *
     * @param ctx the model under test and the settings
     * @return the limits
     */
    public static Limits measure(BenchContext ctx) {
        BenchSettings s = ctx.settings();
        long k = 4096;
        long n = Math.max(1, s.bandwidthBytes() / (4 * k));
        long bytes = n * k * 4;
        double bandwidth;
        MemoryProbe probe = MemoryProbe.start();
        try (NDManager m = ctx.manager().newSubManager()) {
            NDArray w = m.ones(new Shape(n, k), DataType.FLOAT32);
            NDArray x = m.ones(new Shape(1, k), DataType.FLOAT32);
            Stats t = Stats.time(Math.max(2, s.warmup()), Math.max(10, 2 * s.repeats()), () -> {
                NDArray y = Linear.linear(x, w).singletonOrThrow();
                BenchContext.sync(y);
                y.close();
            });
            bandwidth = bytes / t.min(); // the best run: what the machine can do
            long llc = Machine.lastLevelCacheBytes();
            ctx.sink().accept(ctx.measurement(Suite.ROOFLINE, "matvec").batch(1).seconds(t).memory(probe)
                    .weightBytes(bytes).bytesPerSecond(bandwidth).flops(2.0 * n * k)
                    .shape(String.format(Locale.ROOT, "[1, %d] x [%d, %d]^T", k, n, k))
                    .note(llc > 0 && bytes < 2 * llc
                            ? "the matrix is not larger than the last-level cache (" + Machine.mib(llc)
                                    + "): an in-cache figure, not the memory bandwidth"
                            : null)
                    .build());
        }

        List<long[]> shapes = new ArrayList<>(ctx.cost().linearShapes());
        shapes.sort(Comparator.comparingLong((long[] sh) -> sh[0] * sh[1]).reversed());
        double best = 0;
        long rows = s.matmulRows();
        for (long[] sh : shapes.subList(0, Math.min(MAX_SHAPES, shapes.size()))) {
            long out = sh[0];
            long in = sh[1];
            MemoryProbe p = MemoryProbe.start();
            try (NDManager m = ctx.manager().newSubManager()) {
                NDArray w = m.ones(new Shape(out, in), DataType.FLOAT32);
                NDArray x = m.ones(new Shape(rows, in), DataType.FLOAT32);
                Stats t = Stats.time(Math.max(1, s.warmup()), Math.max(3, s.repeats()), () -> {
                    NDArray y = Linear.linear(x, w).singletonOrThrow();
                    BenchContext.sync(y);
                    y.close();
                });
                double flops = 2.0 * rows * in * out;
                double gflops = flops / t.min() / 1e9; // the best run
                best = Math.max(best, gflops);
                ctx.sink().accept(ctx.measurement(Suite.ROOFLINE, "matmul").batch((int) rows).seconds(t).memory(p)
                        .flops(flops).gflopPerSecond(gflops).weightBytes(out * in * 4)
                        .shape(String.format(Locale.ROOT, "[%d, %d] x [%d, %d]^T", rows, in, out, in)).build());
            }
        }
        if (best == 0) { // a model without a weight matrix of at least 8 x 8: measure a square one
            throw new IllegalStateException("the model has no weight matrix of at least 8 x 8 to time");
        }
        return new Limits(bandwidth, best);
    }
}
