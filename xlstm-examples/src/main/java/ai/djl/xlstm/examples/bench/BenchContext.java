package ai.djl.xlstm.examples.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.util.Objects;
import java.util.function.Consumer;

/**
 * The model under test and where its measurements go: what every suite receives.
 *
 * @param name the model as the user named it (zoo name, folder, config)
 * @param dtype the weight type
 * @param model the model (initialized, on {@code manager}'s device)
 * @param generator the model's generator (no tokenizer: token ids only)
 * @param manager the manager the model's sessions and the suites' arrays live under
 * @param cost the model's cost model
 * @param settings what to measure
 * @param sink receives each measurement as soon as it is made
 */
public record BenchContext(
        String name, BenchDtype dtype, XLstmLanguageModel model, Generator generator, NDManager manager,
        ModelCost cost, BenchSettings settings, Consumer<Measurement> sink) {

    /** Checks that nothing is missing. */
    public BenchContext {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(generator, "generator");
        Objects.requireNonNull(manager, "manager");
        Objects.requireNonNull(cost, "cost");
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(sink, "sink");
    }

    /**
     * A measurement builder of {@code suite} for this model, with the device filled in.
     *
     * @param suite the suite
     * @param variant what ran
     * @return the builder
     */
    Measurement.Builder measurement(Suite suite, String variant) {
        return Measurement.builder(suite, variant, name, dtype).device(manager.getDevice().toString());
    }

    /**
     * Waits for {@code array}'s computation: on a GPU the engine returns before the kernels end,
     * so a timing must read a value; on the CPU the engine is synchronous and nothing is read.
     *
     * @param array the last result of the timed work
     */
    static void sync(NDArray array) {
        if (array.getDevice().isGpu()) {
            array.flatten().get(0).getFloat();
        }
    }
}
