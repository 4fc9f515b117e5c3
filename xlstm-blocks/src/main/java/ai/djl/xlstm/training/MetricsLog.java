package ai.djl.xlstm.training;

import ai.djl.xlstm.internal.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The metrics of a training run: one row per logged step, written as {@code metrics.csv}. Reading
 * an existing CSV lets a resumed run continue the same curve.
 */
public final class MetricsLog {

    /** The CSV header. */
    public static final String HEADER = "step,train_loss,val_loss,val_perplexity,learning_rate,grad_norm,tokens_per_second,elapsed_seconds";

    /** One logged step; NaN where a value was not measured at that step. */
    public record Row(
            int step, double trainLoss, double valLoss, double valPerplexity, double learningRate,
            double gradNorm, double tokensPerSecond, double elapsedSeconds) {

        String toCsv() {
            return String.format(Locale.ROOT, "%d,%s,%s,%s,%s,%s,%s,%s", step, f(trainLoss), f(valLoss),
                    f(valPerplexity), f(learningRate), f(gradNorm), f(tokensPerSecond), f(elapsedSeconds));
        }

        private static String f(double v) {
            return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.8g", v);
        }

        static Row parse(String line) {
            String[] c = line.split(",", -1);
            return new Row(Integer.parseInt(c[0]), d(c[1]), d(c[2]), d(c[3]), d(c[4]), d(c[5]), d(c[6]), d(c[7]));
        }

        private static double d(String s) {
            return s.isEmpty() ? Double.NaN : Double.parseDouble(s);
        }
    }

    private final List<Row> rows = new ArrayList<>();

    /** An empty log. */
    public MetricsLog() {}

    /**
     * A log continuing the rows of {@code csv} (an earlier run's) up to {@code keepUpToStep}.
     *
     * @param csv the earlier run's CSV file
     * @param keepUpToStep the last step kept
     * @throws IOException if the file cannot be read
     */
    public MetricsLog(Path csv, int keepUpToStep) throws IOException {
        if (keepUpToStep > 0 && Files.isRegularFile(csv)) {
            for (String line : Files.readAllLines(csv, StandardCharsets.UTF_8)) {
                if (!line.isBlank() && !line.startsWith("step")) {
                    Row r = Row.parse(line);
                    if (r.step() <= keepUpToStep) {
                        rows.add(r);
                    }
                }
            }
        }
    }

    /**
     * The rows so far.
     *
     * @return the rows
     */
    public List<Row> rows() {
        return List.copyOf(rows);
    }

    /**
     * Adds a row.
     *
     * @param row the row
     */
    public void add(Row row) {
        rows.add(row);
    }

    /**
     * Writes the rows as CSV to {@code file}, replacing it atomically.
     *
     * @param file the CSV file
     * @throws IOException if it cannot be written
     */
    public void write(Path file) throws IOException {
        StringBuilder csv = new StringBuilder(HEADER).append('\n');
        for (Row r : rows) {
            csv.append(r.toCsv()).append('\n');
        }
        AtomicFiles.writeString(file, csv.toString());
    }
}
