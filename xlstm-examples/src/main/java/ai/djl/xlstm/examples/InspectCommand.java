package ai.djl.xlstm.examples;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code xlstm inspect}: validates a checkpoint and says what it is. Every tensor's header entry
 * (dtype, shape, offsets within its file) is checked, then the weights load against the config
 * (F16 and BF16 convert to float32) and one forward pass runs. A broken checkpoint gives one line
 * naming the file and the problem, and exit code 1.
 */
@Command(name = "inspect",
        description = "Validate a checkpoint, load it, run one forward pass and describe it.")
final class InspectCommand implements Callable<Integer> {

    @Mixin
    private ModelSource source;

    @Option(names = "--json", description = "print one JSON object instead of text")
    private boolean json;

    @Mixin
    private EngineOptions engine;

    @Override
    public Integer call() throws Exception {
        engine.configure();
        Path dir = source.checkpointFolder(); // a bad option fails here: exit 2 as every command
        try {
            JsonObject report = inspect(dir);
            if (json) {
                System.out.println(new Gson().toJson(report));
            } else {
                print(report);
            }
            return 0;
        } catch (Exception e) {
            System.err.println("error: " + dir + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()
                    .replace('\n', ' ')));
            if (engine.verbose) {
                e.printStackTrace(System.err);
            }
            return 1;
        }
    }

    private static JsonObject inspect(Path dir) throws Exception {
        XLstmConfig config = XLstmConfig.read(dir);
        Map<String, SafeTensors.TensorInfo> headers = SafeTensors.readCheckpointHeader(dir);
        Map<String, Integer> dtypes = new TreeMap<>();
        long bytes = 0;
        for (SafeTensors.TensorInfo t : headers.values()) {
            dtypes.merge(t.dtype(), 1, Integer::sum);
            bytes += t.end() - t.begin();
        }
        JsonObject report = new JsonObject();
        report.addProperty("folder", dir.toString());
        report.addProperty("architecture", config.architecture());
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(dir, manager);
            long params = model.getParameters().values().stream().mapToLong(p -> p.getArray().size()).sum();
            int n = (int) Math.min(8, config.vocabSize());
            long[] ids = new long[n];
            for (int i = 0; i < n; i++) {
                ids[i] = i;
            }
            NDArray logits = model.logits(new ParameterStore(manager, false), manager.create(ids).reshape(1, n), false);
            float maxAbs = logits.abs().max().getFloat();
            if (!Float.isFinite(maxAbs)) {
                throw new IllegalStateException("the forward pass gives non-finite logits: the weights hold NaN or infinity");
            }
            report.addProperty("parameters", params);
            report.addProperty("tensors", headers.size());
            report.addProperty("bytes", bytes);
            report.add("dtypes", new Gson().toJsonTree(dtypes));
            report.addProperty("forward_pass", "logits " + logits.getShape() + ", max |logit| "
                    + String.format(Locale.ROOT, "%.4g", maxAbs));
        }
        report.add("config", new Gson().toJsonTree(config.toUpstreamMap()));
        return report;
    }

    private static void print(JsonObject r) {
        System.out.printf(Locale.ROOT, "%s: %s, %,d parameters in %d tensors (%,d bytes; %s), loaded as float32%n",
                r.get("folder").getAsString(), r.get("architecture").getAsString(), r.get("parameters").getAsLong(),
                r.get("tensors").getAsInt(), r.get("bytes").getAsLong(), r.get("dtypes"));
        System.out.println("forward pass: " + r.get("forward_pass").getAsString());
        System.out.println("config: " + new GsonBuilder().setPrettyPrinting().create().toJson(r.get("config")));
    }
}
