package ai.djl.xlstm.examples;

import picocli.CommandLine.Option;

/**
 * The {@code --weights} option of the commands that load a model (a picocli mixin): the type the
 * weights are held in, passed to the model factory as its {@code weights} argument, which checks it.
 */
final class WeightsOption {

    @Option(names = "--weights", defaultValue = "float32", paramLabel = "TYPE",
            description = "the type the weights are held in: float32 or float16 (half the memory, and half the"
                    + " bytes a decode step reads; any checkpoint, BF16 files included, loads into it;"
                    + " default: ${DEFAULT-VALUE})")
    private String type;

    /** The weight type given (the factory's {@code weights} argument). */
    String type() {
        return type;
    }
}
