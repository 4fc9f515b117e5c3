package ai.djl.xlstm.examples.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The reports of {@code xlstm bench}: one console line per measurement, and with {@code --out
 * DIR} the files {@code bench.jsonl} (the JSON lines), {@code bench.md} (Markdown tables, one per
 * suite, under a description of the machine and the run) and PNG plots drawn with XChart ({@code
 * decode.png}, {@code prefill.png}, {@code scaling-time.png}, {@code scaling-memory.png}, each
 * where its suite ran).
 */
public final class BenchReport {

    private BenchReport() {}

    /**
     * One human-readable line for the console.
     *
     * @param m the measurement
     * @return the line
     */
    public static String consoleLine(Measurement m) {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%-8s %-16s", m.suite().label(), m.variant()));
        if (m.batch() != null) {
            b.append(String.format(Locale.ROOT, " batch %-4d", m.batch()));
        }
        if (m.seqLen() != null) {
            b.append(String.format(Locale.ROOT, " len %-7d", m.seqLen()));
        }
        if (m.shape() != null) {
            b.append(' ').append(m.shape());
        }
        if (!m.ran()) {
            return b.append(": ").append(m.status()).toString();
        }
        Stats t = m.seconds();
        b.append(String.format(Locale.ROOT, ": %s (%s-%s)", time(t.median()), time(t.min()), time(t.max())));
        if (m.tokensPerSecond() != null) {
            b.append(String.format(Locale.ROOT, ", %,.1f tokens/s", m.tokensPerSecond()));
        }
        if (m.bytesPerSecond() != null) {
            b.append(String.format(Locale.ROOT, ", %.2f GB/s", m.bytesPerSecond() / 1e9));
        }
        if (m.gflopPerSecond() != null) {
            b.append(String.format(Locale.ROOT, ", %.1f GFLOP/s", m.gflopPerSecond()));
        }
        if (m.opsPerStep() != null && m.suite() != Suite.ROOFLINE) {
            b.append(String.format(Locale.ROOT, ", %,.0f tensors/run", m.opsPerStep()));
        }
        if (m.rooflineFraction() != null) {
            b.append(String.format(Locale.ROOT, ", %.1f%% of the %s bound", 100 * m.rooflineFraction(), m.bound()));
        }
        if (m.peakRssBytes() >= 0) {
            b.append(", peak RSS ").append(Machine.mib(m.peakRssBytes()));
        }
        return b.toString();
    }

    /**
     * Writes the JSON lines, the Markdown tables and the plots into {@code dir} (created if
     * needed).
     *
     * @param dir the output folder
     * @param header the Markdown lines describing the machine and the run
     * @param rows the measurements
     * @return the files written
     * @throws IOException if a file cannot be written
     */
    public static List<Path> write(Path dir, List<String> header, List<Measurement> rows) throws IOException {
        Files.createDirectories(dir);
        List<Path> written = new ArrayList<>();
        StringBuilder jsonl = new StringBuilder();
        for (Measurement m : rows) {
            jsonl.append(m.toJsonLine()).append('\n');
        }
        written.add(Files.writeString(dir.resolve("bench.jsonl"), jsonl.toString(), StandardCharsets.UTF_8));
        written.add(Files.writeString(dir.resolve("bench.md"), markdown(header, rows), StandardCharsets.UTF_8));
        System.setProperty("java.awt.headless", "true");
        plot(dir, "decode.png", "decode: time per step", "batch size", "ms per step", false, false,
                select(rows, Suite.DECODE), m -> "position " + m.seqLen(), m -> (double) m.batch(),
                m -> 1000 * m.seconds().median(), written);
        plot(dir, "prefill.png", "prefill throughput", "prompt tokens", "tokens per second", true, false,
                select(rows, Suite.PREFILL), m -> m.model(), m -> (double) m.seqLen(), Measurement::tokensPerSecond, written);
        plot(dir, "scaling-time.png", "one forward pass over a sequence", "tokens", "seconds", true, true,
                select(rows, Suite.SCALING), Measurement::variant, m -> (double) m.seqLen(), m -> m.seconds().median(), written);
        plot(dir, "scaling-memory.png", "peak memory added by one forward pass", "tokens", "MiB", true, true,
                select(rows, Suite.SCALING), Measurement::variant, m -> (double) m.seqLen(),
                m -> m.rssBeforeBytes() < 0 ? null : Math.max(4096, m.peakRssBytes() - m.rssBeforeBytes()) / (double) (1 << 20),
                written);
        return written;
    }

    /** The Markdown report: the header, then one table per suite that ran. */
    static String markdown(List<String> header, List<Measurement> rows) {
        StringBuilder md = new StringBuilder();
        header.forEach(l -> md.append(l).append('\n'));
        table(md, "Roofline", select(rows, Suite.ROOFLINE),
                new String[] {"kernel", "shape", "median ms", "min-max ms", "GB/s", "GFLOP/s", "note"},
                m -> new String[] {m.variant(), m.shape(), ms(m), spread(m), num(m.bytesPerSecond(), 1e-9, "%.2f"),
                        num(m.gflopPerSecond(), 1, "%.1f"), text(m.note())});
        table(md, "Prefill (batch 1, through the generator)", select(rows, Suite.PREFILL),
                new String[] {"prompt tokens", "median s", "min-max s", "tokens/s", "ms/token", "tensors/token",
                        "roofline fraction", "bound", "peak RSS"},
                m -> new String[] {String.valueOf(m.seqLen()), sec(m), secSpread(m), num(m.tokensPerSecond(), 1, "%,.0f"),
                        num(m.msPerToken(), 1, "%.3f"), num(m.opsPerToken(), 1, "%.2f"), pct(m.rooflineFraction()),
                        text(m.bound()), Machine.mib(m.peakRssBytes())});
        table(md, "Decode (greedy, through the generator)", select(rows, Suite.DECODE),
                new String[] {"batch", "position", "ms/step (median)", "p25-p75", "min-max", "tokens/s", "tensors/step",
                        "roofline fraction", "bound", "peak RSS"},
                m -> new String[] {String.valueOf(m.batch()), String.valueOf(m.seqLen()), ms(m), iqr(m), spread(m),
                        num(m.tokensPerSecond(), 1, "%,.1f"), num(m.opsPerStep(), 1, "%,.0f"), pct(m.rooflineFraction()),
                        text(m.bound()), Machine.mib(m.peakRssBytes())});
        table(md, "Training step", select(rows, Suite.TRAIN),
                new String[] {"batch x length", "median s/step", "min-max s", "tokens/s", "tensors/step",
                        "fraction of the FLOP bound", "bound", "peak RSS", "status"},
                m -> new String[] {m.batch() + " x " + m.seqLen(), sec(m), secSpread(m), num(m.tokensPerSecond(), 1, "%,.0f"),
                        num(m.opsPerStep(), 1, "%,.0f"), pct(m.rooflineFraction()), text(m.bound()),
                        Machine.mib(m.peakRssBytes()), m.status()});
        table(md, "Scaling (one forward pass, batch 1)", select(rows, Suite.SCALING),
                new String[] {"model", "tokens", "median s", "min-max s", "tokens/s", "peak RSS added", "status"},
                m -> new String[] {m.variant(), String.format(Locale.ROOT, "%,d", m.seqLen()), sec(m), secSpread(m),
                        num(m.tokensPerSecond(), 1, "%,.0f"),
                        m.ran() && m.rssBeforeBytes() >= 0 ? Machine.mib(m.peakRssBytes() - m.rssBeforeBytes()) : "",
                        m.status()});
        return md.toString();
    }

    private static List<Measurement> select(List<Measurement> rows, Suite suite) {
        return rows.stream().filter(m -> m.suite() == suite).toList();
    }

    private static void table(StringBuilder md, String title, List<Measurement> rows, String[] columns,
            Function<Measurement, String[]> cells) {
        if (rows.isEmpty()) {
            return;
        }
        md.append("\n## ").append(title).append("\n\n| ").append(String.join(" | ", columns)).append(" |\n|");
        md.append("---|".repeat(columns.length)).append('\n');
        for (Measurement m : rows) {
            md.append("| ").append(String.join(" | ", cells.apply(m))).append(" |\n");
        }
    }

    private static void plot(Path dir, String file, String title, String x, String y, boolean logX, boolean logY,
            List<Measurement> rows, Function<Measurement, String> series, Function<Measurement, Double> xs,
            Function<Measurement, Double> ys, List<Path> written) throws IOException {
        Map<String, List<double[]>> points = new LinkedHashMap<>();
        for (Measurement m : rows) {
            Double yv = m.ran() ? ys.apply(m) : null;
            if (yv != null && yv > 0) {
                points.computeIfAbsent(series.apply(m), k -> new ArrayList<>()).add(new double[] {xs.apply(m), yv});
            }
        }
        if (points.isEmpty()) {
            return;
        }
        XYChart chart = new XYChartBuilder().width(900).height(500).title(title).xAxisTitle(x).yAxisTitle(y).build();
        chart.getStyler().setXAxisLogarithmic(logX);
        chart.getStyler().setYAxisLogarithmic(logY);
        chart.getStyler().setMarkerSize(6);
        for (Map.Entry<String, List<double[]>> e : points.entrySet()) {
            double[] px = e.getValue().stream().mapToDouble(p -> p[0]).toArray();
            double[] py = e.getValue().stream().mapToDouble(p -> p[1]).toArray();
            chart.addSeries(e.getKey(), px, py).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        }
        Path png = dir.resolve(file);
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
        written.add(png);
    }

    private static String time(double seconds) {
        return seconds >= 1 ? String.format(Locale.ROOT, "%.2f s", seconds) : String.format(Locale.ROOT, "%.3f ms", 1000 * seconds);
    }

    private static String ms(Measurement m) {
        return m.ran() ? String.format(Locale.ROOT, "%.3f", 1000 * m.seconds().median()) : "";
    }

    private static String spread(Measurement m) {
        return m.ran() ? String.format(Locale.ROOT, "%.3f-%.3f", 1000 * m.seconds().min(), 1000 * m.seconds().max()) : "";
    }

    private static String iqr(Measurement m) {
        return m.ran() ? String.format(Locale.ROOT, "%.3f-%.3f", 1000 * m.seconds().p25(), 1000 * m.seconds().p75()) : "";
    }

    private static String sec(Measurement m) {
        return m.ran() ? String.format(Locale.ROOT, "%.4f", m.seconds().median()) : "";
    }

    private static String secSpread(Measurement m) {
        return m.ran() ? String.format(Locale.ROOT, "%.4f-%.4f", m.seconds().min(), m.seconds().max()) : "";
    }

    private static String num(Double v, double scale, String format) {
        return v == null ? "" : String.format(Locale.ROOT, format, v * scale);
    }

    private static String pct(Double v) {
        return v == null ? "" : String.format(Locale.ROOT, "%.1f%%", 100 * v);
    }

    private static String text(String s) {
        return s == null ? "" : s.replace("|", "\\|");
    }
}
