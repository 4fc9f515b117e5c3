package ai.djl.xlstm.examples;

import ai.djl.xlstm.examples.formal.FormalLanguageEval;
import ai.djl.xlstm.examples.formal.FormalLanguageExperiment;
import ai.djl.xlstm.examples.formal.FormalLanguageExperiment.Architecture;
import ai.djl.xlstm.examples.formal.FormalLanguageExperiment.Options;
import ai.djl.xlstm.examples.formal.FormalTask;
import ai.djl.xlstm.examples.formal.Supervision;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * {@code xlstm formal-table}: runs the formal-language experiment for several tasks and
 * architectures and prints a Markdown table (one row per run, printed as soon as it finishes).
 */
@Command(name = "formal-table",
        description = "Run formal-language experiments and print a Markdown table.")
final class FormalTableCommand implements Callable<Integer> {

    @Option(names = "--tasks", split = ",", defaultValue = "parity,even-pairs,cycle-navigation,modular-arithmetic,mqar",
            description = "comma-separated tasks (default: all)")
    private List<String> tasks;

    @Option(names = "--architectures", split = ",", defaultValue = "0:1,1:0,1:1,lstm",
            description = "comma-separated architectures (default: all)")
    private List<String> architectures;

    @Option(names = "--steps", defaultValue = "400", description = "optimizer updates per run (default: ${DEFAULT-VALUE})")
    private int steps;

    @Option(names = "--labels", defaultValue = "dense", description = "dense or last")
    private String labels;

    @Option(names = "--seed", defaultValue = "0", description = "seed (default: ${DEFAULT-VALUE})")
    private long seed;

    @Mixin
    private EngineOptions engine;

    @Override
    public Integer call() throws Exception {
        engine.configure();
        Supervision supervision = "last".equalsIgnoreCase(labels) ? Supervision.LAST : Supervision.DENSE;
        System.out.println("| task | architecture | params | labels | steps | acc 1-40 | acc 41-64 | acc 65-128 | acc 129-256 | acc 41-256 | seconds |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|---|");
        // SIGINT/SIGTERM end the table at the next training step boundary, never inside libtorch;
        // the rows printed so far are complete
        try (StopOnSignal signals = StopOnSignal.install()) {
            try {
                printRows(supervision, () -> signals.signal() != null);
            } catch (CancellationException e) {
                System.out.println("stopped by " + signals.signal() + ": " + e.getMessage() + "; the rows above are complete");
                return signals.exitCode();
            }
        }
        return 0;
    }

    private void printRows(Supervision supervision, BooleanSupplier stop) throws Exception {
        for (String t : tasks) {
            for (String a : architectures) {
                Options base = Options.defaults(FormalTask.parse(t), Architecture.parse(a));
                Options o = new Options(base.task(), base.architecture(), steps, seed, supervision,
                        base.batchSize(), base.learningRate(), base.testPerBucket());
                FormalLanguageExperiment.Result r = FormalLanguageExperiment.run(o, false, stop);
                StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "| %s | %s | %,d | %s | %d | %.3f |",
                        o.task().cliName(), o.architecture().cliName(), r.parameters(), supervision.name().toLowerCase(Locale.ROOT),
                        steps, r.trainAccuracy()));
                for (FormalLanguageEval.Accuracy acc : r.test().buckets().values()) {
                    row.append(String.format(Locale.ROOT, " %.3f |", acc.value()));
                }
                row.append(String.format(Locale.ROOT, " %.3f | %.0f |", r.test().overall().value(), r.seconds()));
                System.out.println(row);
            }
        }
    }
}
