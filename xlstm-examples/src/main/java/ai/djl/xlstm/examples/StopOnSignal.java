package ai.djl.xlstm.examples;

import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.util.HashMap;
import java.util.Map;

/**
 * Turns SIGINT and SIGTERM into stop requests while a long job runs, instead of letting the JVM
 * shut down around native code in progress. The first signal asks the job to stop at its next
 * safe point with a checkpoint; every later one asks it to stop at its next safe point without
 * one. The handler never ends the process itself: {@code System.exit} or {@code Runtime.halt}
 * while the main thread is inside libtorch (a backward pass) runs libtorch's static destructors
 * under it, and the JVM crashes ({@code at::accelerator::getAccelerator} under {@code
 * torchBackward}, 2 of 15 double SIGTERMs did so when the second signal halted). The job returns
 * at its safe point, and the command exits with {@link #exitCode}. {@link #close} restores the
 * previous handlers. Only SIGKILL ends the process at once.
 */
public final class StopOnSignal implements AutoCloseable {

    private static final Map<String, Integer> EXIT_CODES = Map.of("INT", 130, "TERM", 143);

    private final Map<Signal, SignalHandler> previous = new HashMap<>();
    private volatile String received;

    private StopOnSignal() {}

    /**
     * Calls {@code stop} on the first SIGINT or SIGTERM and {@code stopWithoutCheckpoint} on every
     * later one (from the JVM's signal thread; both must only set a flag). Null for both: see
     * {@link #install()}.
     */
    public static StopOnSignal install(Runnable stop, Runnable stopWithoutCheckpoint) {
        StopOnSignal s = new StopOnSignal();
        for (String name : EXIT_CODES.keySet()) {
            Signal signal = new Signal(name);
            s.previous.put(signal, Signal.handle(signal, sig -> s.onSignal(sig.getName(), stop, stopWithoutCheckpoint)));
        }
        return s;
    }

    /**
     * For a job without checkpoints, which polls {@link #signal} at its safe points: every signal
     * is only recorded.
     */
    public static StopOnSignal install() {
        return install(null, null);
    }

    private synchronized void onSignal(String name, Runnable stop, Runnable stopWithoutCheckpoint) {
        if (stop == null) {
            received = received == null ? name : received;
            System.err.println("\nSIG" + name + ": stopping at the next step boundary");
        } else if (received == null) {
            received = name;
            System.err.println("\nSIG" + name + ": stopping after this step with a checkpoint"
                    + " (send it again to stop without one)");
            stop.run();
        } else {
            System.err.println("\nSIG" + name + " again: stopping at the next step boundary without a checkpoint"
                    + " (one already being written completes; the newest checkpoint stays; kill -9 ends the process at once)");
            stopWithoutCheckpoint.run();
        }
    }

    /** The first signal received ({@code SIGINT}, {@code SIGTERM}), or null. */
    public String signal() {
        return received == null ? null : "SIG" + received;
    }

    /** 128 + the number of the first signal, as a shell reports a process ended by it; 0 without a signal. */
    public int exitCode() {
        return received == null ? 0 : EXIT_CODES.get(received);
    }

    @Override
    public void close() {
        previous.forEach(Signal::handle);
    }
}
