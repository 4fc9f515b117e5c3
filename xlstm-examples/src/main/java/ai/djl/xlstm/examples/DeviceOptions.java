package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.engine.Engine;

import picocli.CommandLine.Option;

import java.util.Locale;

/**
 * {@link EngineOptions} plus {@code --device}, for the commands that load or create a model (a
 * picocli mixin).
 */
final class DeviceOptions extends EngineOptions {

    @Option(names = "--device", paramLabel = "NAME", description = "cpu, gpu, gpu:N or mps (default: the engine's default device)")
    String device;

    /**
     * Applies {@link #configure()}, then returns the device of {@code --device}, or null for the
     * engine's default.
     *
     * @throws IllegalArgumentException for a bad {@code --threads}, or a device name that is not
     *     one or that this machine does not have
     */
    Device device() {
        configure();
        return device == null ? null : parse(device, Engine.getInstance());
    }

    /**
     * Parses a device name with {@link Device#fromName(String, Engine)}, also accepting PyTorch's
     * spellings {@code gpu:1}, {@code cuda} and {@code cuda:1}.
     */
    static Device parse(String name, Engine engine) {
        String djlName = name.strip().toLowerCase(Locale.ROOT).replaceFirst("^cuda", "gpu")
                .replaceFirst("^([a-z]+):([0-9]+)$", "$1$2");
        Device d;
        try {
            d = djlName.isEmpty() || djlName.contains("+") ? null : Device.fromName(djlName, engine);
        } catch (IllegalArgumentException e) {
            d = null;
        }
        if (d == null || !(d.isGpu() || Device.Type.CPU.equals(d.getDeviceType()) || "mps".equals(d.getDeviceType()))) {
            throw new IllegalArgumentException("--device: unknown device '" + name + "' (expected cpu, gpu, gpu:N or mps)");
        }
        if (d.isGpu()) {
            int id = Math.max(0, d.getDeviceId());
            int gpus = engine.getGpuCount();
            if (id >= gpus) {
                throw new IllegalArgumentException("--device " + name + ": " + (gpus == 0
                        ? "the " + engine.getEngineName() + " engine sees no GPU"
                        : "the " + engine.getEngineName() + " engine sees " + gpus + " GPU(s), gpu:0 to gpu:" + (gpus - 1)));
            }
            return Device.gpu(id);
        }
        return d;
    }
}
