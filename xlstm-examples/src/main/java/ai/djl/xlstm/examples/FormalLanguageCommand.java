package ai.djl.xlstm.examples;

import ai.djl.xlstm.examples.formal.FormalLanguageEval;
import ai.djl.xlstm.examples.formal.FormalLanguageExperiment;
import ai.djl.xlstm.examples.formal.FormalLanguageExperiment.Architecture;
import ai.djl.xlstm.examples.formal.FormalLanguageExperiment.Options;
import ai.djl.xlstm.examples.formal.FormalTask;
import ai.djl.xlstm.examples.formal.Supervision;

import com.google.gson.Gson;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;

/**
 * {@code xlstm formal-language}: trains one model on a formal-language task (lengths 1-40) and
 * prints its accuracy per test length bucket (41-256). SIGINT or SIGTERM during training ends it
 * at the next step boundary without evaluating, and the command exits 130 or 143.
 */
@Command(name = "formal-language",
        description = "Train on a formal-language task and test length generalization.")
final class FormalLanguageCommand implements Callable<Integer> {

    @Option(names = "--task", required = true, description = "parity, even-pairs, cycle-navigation, modular-arithmetic or mqar")
    private String task;

    @Option(names = "--architecture", required = true, description = "0:1 (sLSTM), 1:0 (mLSTM), 1:1 or lstm")
    private String architecture;

    @Option(names = "--steps", defaultValue = "400", description = "optimizer updates (default: ${DEFAULT-VALUE})")
    private int steps;

    @Option(names = "--seed", defaultValue = "0", description = "seed (default: ${DEFAULT-VALUE})")
    private long seed;

    @Option(names = "--labels", defaultValue = "dense", description = "dense (every prefix) or last (last position only, as the paper)")
    private String labels;

    @Option(names = "--batch", defaultValue = "64", description = "sequences per batch (default: ${DEFAULT-VALUE})")
    private int batch;

    @Option(names = "--lr", defaultValue = "3e-3", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    private float lr;

    @Option(names = "--test-size", defaultValue = "128", description = "test sequences per length bucket (default: ${DEFAULT-VALUE})")
    private int testSize;

    @Option(names = "--json", description = "end with one JSON object on the last line")
    private boolean json;

    @Mixin
    private EngineOptions engine;

    @Override
    public Integer call() throws Exception {
        engine.configure();
        Supervision supervision = switch (labels.toLowerCase(Locale.ROOT)) {
            case "dense" -> Supervision.DENSE;
            case "last" -> Supervision.LAST;
            default -> throw new IllegalArgumentException("--labels must be dense or last, got '" + labels + "'");
        };
        if (steps < 1) {
            throw new IllegalArgumentException("--steps must be >= 1, got " + steps);
        }
        if (!(lr > 0)) {
            throw new IllegalArgumentException("--lr must be > 0, got " + lr);
        }
        Options options = new Options(FormalTask.parse(task), Architecture.parse(architecture), steps, seed,
                supervision, batch, lr, testSize);
        FormalLanguageExperiment.Result r;
        // SIGINT/SIGTERM end training at the next step boundary, never inside libtorch
        try (StopOnSignal signals = StopOnSignal.install()) {
            try {
                r = FormalLanguageExperiment.run(options, !json, () -> signals.signal() != null);
            } catch (CancellationException e) {
                System.out.println("stopped by " + signals.signal() + ": " + e.getMessage() + "; nothing evaluated");
                return signals.exitCode();
            }
        }
        System.out.printf(Locale.ROOT, "%s, xLSTM %s (%,d parameters), %d steps, %s labels, %.1f s%n",
                options.task().cliName(), options.architecture().cliName(), r.parameters(), steps,
                labels, r.seconds());
        System.out.printf(Locale.ROOT, "  accuracy on training lengths 1-40: %.4f%n", r.trainAccuracy());
        Map<String, Double> buckets = new LinkedHashMap<>();
        for (Map.Entry<FormalLanguageEval.LengthBucket, FormalLanguageEval.Accuracy> e : r.test().buckets().entrySet()) {
            System.out.printf(Locale.ROOT, "  accuracy on lengths %-8s %.4f%n", e.getKey() + ":", e.getValue().value());
            buckets.put(e.getKey().toString(), e.getValue().value());
        }
        System.out.printf(Locale.ROOT, "  accuracy on lengths 41-256:  %.4f%n", r.test().overall().value());
        if (json) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("task", options.task().cliName());
            out.put("architecture", options.architecture().cliName());
            out.put("labels", labels);
            out.put("test_accuracy", r.test().overall().value());
            out.put("test_accuracy_by_length", buckets);
            out.put("train_length_accuracy", r.trainAccuracy());
            out.put("train_steps", steps);
            out.put("parameters", r.parameters());
            out.put("final_loss", r.finalLoss());
            out.put("seconds", Math.round(r.seconds() * 10) / 10.0);
            out.put("seed", seed);
            System.out.println(new Gson().toJson(out));
        }
        return 0;
    }
}
