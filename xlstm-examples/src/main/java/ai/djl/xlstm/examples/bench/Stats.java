package ai.djl.xlstm.examples.bench;

import java.util.Arrays;

/**
 * The median and spread of repeated timings, in seconds.
 *
 * @param median the median
 * @param min the fastest
 * @param max the slowest
 * @param p25 the 25th percentile (linear interpolation)
 * @param p75 the 75th percentile
 * @param runs how many timings
 */
public record Stats(double median, double min, double max, double p25, double p75, int runs) {

    /** Checks that the figures are finite, ordered and from at least one timing. */
    public Stats {
        if (runs < 1) {
            throw new IllegalArgumentException("stats need at least one timing, got " + runs);
        }
        if (!(min <= p25 && p25 <= median && median <= p75 && p75 <= max) || !Double.isFinite(max) || min < 0) {
            throw new IllegalArgumentException("unordered or non-finite timings: min " + min + ", p25 " + p25
                    + ", median " + median + ", p75 " + p75 + ", max " + max);
        }
    }

    /**
     * The statistics of {@code seconds}.
     *
     * @param seconds at least one timing
     * @return their median and spread
     */
    public static Stats of(double... seconds) {
        if (seconds.length == 0) {
            throw new IllegalArgumentException("no timings");
        }
        double[] s = seconds.clone();
        Arrays.sort(s);
        return new Stats(quantile(s, 0.5), s[0], s[s.length - 1], quantile(s, 0.25), quantile(s, 0.75), s.length);
    }

    /**
     * Times {@code warmup} untimed then {@code repeats} timed calls of {@code run}.
     *
     * @param warmup untimed calls first (at least 0)
     * @param repeats timed calls (at least 1)
     * @param run the work
     * @return the statistics of the timed calls
     */
    public static Stats time(int warmup, int repeats, Runnable run) {
        for (int i = 0; i < warmup; i++) {
            run.run();
        }
        double[] seconds = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long start = System.nanoTime();
            run.run();
            seconds[i] = (System.nanoTime() - start) / 1e9;
        }
        return of(seconds);
    }

    private static double quantile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = (int) Math.ceil(pos);
        double v = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
        return Math.min(sorted[hi], Math.max(sorted[lo], v)); // no rounding outside the neighbours
    }
}
