package ai.djl.xlstm.examples.bench;

/**
 * The memory state just before a measurement: the peak resident size reset (where Linux allows)
 * and the resident size then, so that the peak after it is the measurement's own.
 *
 * @param rssBeforeBytes the resident bytes after the reset, -1 where unknown
 * @param reset whether the peak was reset
 */
public record MemoryProbe(long rssBeforeBytes, boolean reset) {

    /**
     * Resets the peak and reads the resident size.
     *
     * @return the probe
     */
    public static MemoryProbe start() {
        boolean reset = Machine.resetPeak();
        return new MemoryProbe(Machine.rssBytes(), reset);
    }
}
