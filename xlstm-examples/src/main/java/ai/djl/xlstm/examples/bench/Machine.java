package ai.djl.xlstm.examples.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;

/**
 * What the harness reads about this machine and process from Linux's {@code /proc} and {@code
 * /sys}: resident memory, the last-level cache, total and available memory, the CPU model. Where
 * a file is missing (another OS) the figures are -1 or "unknown", never an exception.
 */
public final class Machine {

    private Machine() {}

    /**
     * The peak resident set size of this process ({@code VmHWM} of {@code /proc/self/status}) in
     * bytes: since the process started, or since the last successful {@link #resetPeak()}.
     *
     * @return the peak in bytes, -1 where unknown
     */
    public static long peakRssBytes() {
        return bytes(statusKb("VmHWM:"));
    }

    /**
     * The resident set size of this process now ({@code VmRSS}) in bytes.
     *
     * @return the resident bytes, -1 where unknown
     */
    public static long rssBytes() {
        return bytes(statusKb("VmRSS:"));
    }

    /**
     * Resets {@code VmHWM} to the current resident size (writes 5 to {@code /proc/self/clear_refs},
     * Linux 4.0 and later), so that the next {@link #peakRssBytes()} is the peak of what ran since.
     *
     * @return whether the reset worked (otherwise the peak stays the process's peak so far)
     */
    public static boolean resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5", StandardCharsets.US_ASCII, StandardOpenOption.WRITE);
            return statusKb("VmHWM:") > 0;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * The size of the largest CPU cache of CPU 0 (the last level) in bytes.
     *
     * @return the bytes, -1 where unknown
     */
    public static long lastLevelCacheBytes() {
        long best = -1;
        for (int i = 0; i < 8; i++) {
            Path size = Path.of("/sys/devices/system/cpu/cpu0/cache/index" + i + "/size");
            try {
                String s = Files.readString(size).strip().toUpperCase(Locale.ROOT);
                long unit = s.endsWith("K") ? 1024 : s.endsWith("M") ? 1024 * 1024 : 1;
                long v = Long.parseLong(s.replaceAll("[^0-9]", "")) * unit;
                best = Math.max(best, v);
            } catch (IOException | RuntimeException e) {
                break;
            }
        }
        return best;
    }

    /**
     * Physical memory ({@code MemTotal} of {@code /proc/meminfo}) in bytes.
     *
     * @return the bytes, -1 where unknown
     */
    public static long memoryBytes() {
        return bytes(meminfoKb("MemTotal:"));
    }

    /**
     * Memory available to new allocations ({@code MemAvailable}) in bytes.
     *
     * @return the bytes, -1 where unknown
     */
    public static long availableMemoryBytes() {
        return bytes(meminfoKb("MemAvailable:"));
    }

    /**
     * The CPU's model name ({@code /proc/cpuinfo}).
     *
     * @return the name, or the JVM's architecture name where unknown
     */
    public static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).strip();
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return System.getProperty("os.arch");
    }

    /**
     * One line describing the machine: CPU, cores the JVM sees, memory, last-level cache, OS, JVM.
     *
     * @return the description
     */
    public static String describe() {
        return String.format(Locale.ROOT, "%s, %d cores seen by the JVM, %s memory, last-level cache %s, %s %s, Java %s",
                cpuModel(), Runtime.getRuntime().availableProcessors(), gib(memoryBytes()), mib(lastLevelCacheBytes()),
                System.getProperty("os.name"), System.getProperty("os.version"), System.getProperty("java.version"));
    }

    /**
     * The load average over the last minute ({@code /proc/loadavg}): the runnable threads, which a
     * benchmark's figures are worth little above about half the cores.
     *
     * @return the load average, -1 where unknown
     */
    public static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).strip().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** {@code bytes} as GiB with one decimal, or "unknown". */
    static String gib(long bytes) {
        return bytes < 0 ? "unknown" : String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }

    /** {@code bytes} as MiB with one decimal, or "unknown". */
    static String mib(long bytes) {
        return bytes < 0 ? "unknown" : String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
    }

    private static long bytes(long kb) {
        return kb < 0 ? -1 : kb * 1024;
    }

    private static long statusKb(String key) {
        return kb(Path.of("/proc/self/status"), key);
    }

    private static long meminfoKb(String key) {
        return kb(Path.of("/proc/meminfo"), key);
    }

    private static long kb(Path file, String key) {
        try {
            List<String> lines = Files.readAllLines(file);
            for (String line : lines) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.substring(key.length()).replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
