package ai.djl.xlstm.examples.bench;

/**
 * Runs the asked-for suites in a fixed order: the roofline first (in the same run, since prefill,
 * decode and train report fractions of it), then prefill, decode, train and scaling.
 */
public final class BenchRunner {

    private BenchRunner() {}

    /**
     * Runs the suites of {@code ctx.settings()}, handing each measurement to {@code ctx.sink()}.
     *
     * @param ctx the model under test
     */
    public static void run(BenchContext ctx) {
        BenchSettings s = ctx.settings();
        Roofline.Limits limits = null;
        if (s.suites().stream().anyMatch(Suite::needsRoofline)) {
            limits = Roofline.measure(ctx);
        }
        if (s.runs(Suite.PREFILL)) {
            InferenceSuites.prefill(ctx, limits);
        }
        if (s.runs(Suite.DECODE)) {
            InferenceSuites.decode(ctx, limits);
        }
        if (s.runs(Suite.TRAIN)) {
            TrainSuite.run(ctx, limits);
        }
        if (s.runs(Suite.SCALING)) {
            ScalingSuite.run(ctx);
        }
    }
}
