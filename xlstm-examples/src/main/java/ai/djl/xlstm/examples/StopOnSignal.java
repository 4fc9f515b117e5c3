package ai.djl.xlstm.examples;

import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.util.HashMap;
import java.util.Map;

/**
 * Turns SIGINT and SIGTERM into a stop request while a long job runs, instead of letting the JVM
 * shut down around native code in progress (a SIGTERM during training crashed the JVM in
 * libtorch's backward pass). The job stops at its next safe point; a second signal ends the
 * process at once. {@link #close} restores the previous handlers.
 */
final class StopOnSignal implements AutoCloseable {

    private static final Map<String, Integer> EXIT_CODES = Map.of("INT", 130, "TERM", 143);

    private final Map<Signal, SignalHandler> previous = new HashMap<>();
    private volatile String received;

    private StopOnSignal() {}

    /** Calls {@code stop} on the first SIGINT or SIGTERM. */
    static StopOnSignal install(Runnable stop) {
        StopOnSignal s = new StopOnSignal();
        for (String name : EXIT_CODES.keySet()) {
            Signal signal = new Signal(name);
            s.previous.put(signal, Signal.handle(signal, sig -> {
                if (s.received != null) {
                    Runtime.getRuntime().halt(EXIT_CODES.get(sig.getName()));
                }
                s.received = sig.getName();
                System.err.println("\n" + "SIG" + sig.getName() + ": stopping after this step with a checkpoint"
                        + " (send it again to quit at once)");
                stop.run();
            }));
        }
        return s;
    }

    /** The signal received ({@code SIGINT}, {@code SIGTERM}), or null. */
    String signal() {
        return received == null ? null : "SIG" + received;
    }

    /** 128 + the signal number, as a shell reports a process ended by it; 0 without a signal. */
    int exitCode() {
        return received == null ? 0 : EXIT_CODES.get(received);
    }

    @Override
    public void close() {
        previous.forEach(Signal::handle);
    }
}
