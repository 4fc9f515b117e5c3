package ai.djl.xlstm.examples.bench;

import ai.djl.ndarray.NDScope;

import java.lang.reflect.Field;
import java.util.Map;

/**
 * Counts the native tensors (NDArrays) created on this thread while it is open.
 *
 * <p>How: the PyTorch engine's {@code PtNDArray} constructor registers every new array with the
 * innermost open {@link NDScope} of its thread ({@code NDScope.register}). This counter opens an
 * {@code NDScope} and reads the size of its registry (a private field of {@code NDScope}, read by
 * reflection: DJL has no public accessor); on {@link #close()} it empties the registry before
 * closing the scope, so it never closes an array: counting does not change what the measured code
 * frees or keeps. Every created array counts, including those the code closes again within the
 * step (which the managers' live-array counts miss), whichever manager it is attached to.
 *
 * <p>Not counted: arrays created inside a nested {@code NDScope} that the measured code opens
 * itself (they register there). In this project only the chunkwise mLSTM kernel does that, in
 * inference over more than one position (one scope per chunk), so decode counts are exact and
 * prefill counts are a lower bound. Where the field cannot be read (another DJL version), {@link
 * #available()} is false and the harness reports no count rather than a wrong one.
 */
public final class TensorCounter implements AutoCloseable {

    private static final Field RESOURCES = resourcesField();

    private final NDScope scope;
    private final Map<?, ?> registry;

    private TensorCounter() {
        scope = new NDScope();
        registry = registry(scope);
    }

    /**
     * Opens a counter on this thread, or returns null when counting is not available.
     *
     * @return the counter (close it on this thread), or null
     */
    public static TensorCounter open() {
        if (!available()) {
            return null;
        }
        TensorCounter c = new TensorCounter();
        if (c.registry == null) {
            c.close();
            return null;
        }
        return c;
    }

    /**
     * Whether this DJL's {@code NDScope} can be read.
     *
     * @return whether counting works
     */
    public static boolean available() {
        return RESOURCES != null;
    }

    /**
     * The arrays created on this thread since the counter opened (outside nested scopes).
     *
     * @return the count
     */
    public long count() {
        return registry.size();
    }

    @Override
    public void close() {
        if (registry != null) {
            registry.clear(); // the scope closes what it holds: hold nothing
        }
        scope.close();
    }

    private static Map<?, ?> registry(NDScope scope) {
        try {
            return (Map<?, ?>) RESOURCES.get(scope);
        } catch (IllegalAccessException | ClassCastException e) {
            return null;
        }
    }

    private static Field resourcesField() {
        try {
            Field f = NDScope.class.getDeclaredField("resources");
            f.setAccessible(true);
            return Map.class.isAssignableFrom(f.getType()) ? f : null;
        } catch (NoSuchFieldException | RuntimeException e) {
            return null;
        }
    }
}
