package ai.djl.xlstm.examples;

import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code xlstm export}: writes a model as a clean folder to ship or to put in a zoo: {@code
 * config.json}, {@code model.safetensors} (float32, or F16/BF16 at half the size), the tokenizer,
 * the {@code generation_config.json} (the one given, else the source's, if any) and {@code
 * serving.properties}. A training run's folder exports its newest checkpoint, without optimizer or
 * trainer state; a zoo model exports from its cached folder.
 */
@Command(name = "export",
        description = "Write a model as a clean folder (optionally with float16 weights).")
final class ExportCommand implements Callable<Integer> {

    @Mixin
    private ModelSource source;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "the folder to write (must not exist)")
    private Path out;

    @Option(names = "--dtype", defaultValue = "f32", paramLabel = "f32|f16|bf16", description = "how to store the weights (default: ${DEFAULT-VALUE})")
    private String dtype;

    @Option(names = "--generation-config", paramLabel = "FILE",
            description = "a generation_config.json to include (default: the source's, if it has one)")
    private Path generationConfig;

    @Mixin
    private EngineOptions engine;

    @Override
    public Integer call() throws Exception {
        engine.configure();
        SafeTensors.FloatStorage storage = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32", "float32" -> SafeTensors.FloatStorage.AS_IS;
            case "f16", "float16" -> SafeTensors.FloatStorage.F16;
            case "bf16", "bfloat16" -> SafeTensors.FloatStorage.BF16;
            default -> throw new IllegalArgumentException("--dtype must be f32, f16 or bf16, got " + dtype);
        };
        if (Files.exists(out)) {
            throw new IllegalArgumentException("--out " + out + " exists: choose a new folder");
        }
        if (generationConfig != null && !Files.isRegularFile(generationConfig)) {
            throw new IllegalArgumentException("--generation-config: file not found: " + generationConfig);
        }
        Path checkpoint = source.checkpointFolder();
        Path tokenizer = source.besideCheckpoint(checkpoint, "tokenizer.json");
        Path generation = generationConfig != null ? generationConfig
                : source.besideCheckpoint(checkpoint, "generation_config.json");
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(checkpoint, manager);
            UpstreamCheckpoint.save(model, out, storage);
        }
        if (Files.isRegularFile(tokenizer)) {
            Files.copy(tokenizer, out.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
        }
        if (Files.isRegularFile(generation)) {
            Files.copy(generation, out.resolve("generation_config.json"), StandardCopyOption.REPLACE_EXISTING);
        }
        System.out.printf(Locale.ROOT, "exported %s to %s (%s weights, %,d bytes)%n", checkpoint, out, dtype,
                Files.size(out.resolve("model.safetensors")));
        return 0;
    }
}
