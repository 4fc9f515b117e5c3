package ai.djl.xlstm.examples;

import picocli.CommandLine.Option;

/**
 * The options of every command that runs the engine (a picocli mixin): {@code --threads} and
 * {@code --verbose}. A command calls {@link #configure()} first, before anything starts the engine
 * (an {@code NDManager}, {@code Engine.getInstance()}, {@code Device.fromName}), because the
 * engine reads its thread count once, when it starts.
 */
class EngineOptions {

    /** The PyTorch engine's intra-op thread count, read when the engine starts. */
    static final String NUM_THREADS = "ai.djl.pytorch.num_threads";

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads of the engine's operators (default: the engine's choice)")
    Integer threads;

    @Option(names = "--verbose", description = "print the stack trace of an error")
    boolean verbose;

    /**
     * Applies {@code --threads}; call before the engine starts.
     *
     * @throws IllegalArgumentException if {@code --threads} is below 1
     */
    void configure() {
        if (threads != null) {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
            }
            System.setProperty(NUM_THREADS, Integer.toString(threads));
        }
    }
}
