package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.GenerationSession;

import com.google.gson.GsonBuilder;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code xlstm generate}: completes a prompt, streaming the text as it is generated; can start from
 * and save the recurrent state, so a generation continues later, in another process.
 */
@Command(name = "generate",
        description = "Generate text from a prompt, streaming it to stdout.")
final class GenerateCommand implements Callable<Integer> {

    @Mixin
    private ModelSource source;

    @Mixin
    private TokenizerOption tokenizer;

    @Mixin
    private WeightsOption weights;

    @Option(names = "--prompt", defaultValue = "", description = "the text to complete; - reads stdin; may be empty with --state-in"
            + " (or to start a new text from the end-of-text token)")
    private String prompt;

    // no defaultValue: an option left out is not passed on, so the model's generation_config.json applies
    @Option(names = "--num-beams", paramLabel = "N",
            description = "beam search width, 1 for sampling or greedy; with more, --temperature and --top-p"
                    + " default to 0 and 1 (default: the model's, else 1)")
    private Integer beams;

    @Option(names = "--length-penalty", description = "beam search length penalty exponent (default: the model's, else 1.0)")
    private Float lengthPenalty;

    @Option(names = "--state-in", paramLabel = "FILE", description = "continue from a saved state")
    private Path stateIn;

    @Option(names = "--state-out", paramLabel = "FILE", description = "save the state after the generated text")
    private Path stateOut;

    @Option(names = "--json", description = "print one JSON object at the end instead of streaming text: text, tokens,"
            + " finish_reason (stop or length), tokens_per_second, prompt_tokens, seed")
    private boolean json;

    @Mixin
    private GenerationOptions options;

    @Mixin
    private DeviceOptions engine;

    @Override
    public Integer call() throws Exception {
        Device device = engine.device();
        String text = "-".equals(prompt) ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8) : prompt;
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        if (stateOut != null) {
            requireWritable(stateOut, "--state-out");
        }
        try (ModelFolder folder = ModelFolder.open(source, tokenizer.path(), device, weights.type())) {
            GenerationConfig config = options.toConfig(folder.path(), beams, lengthPenalty, folder.endOfText(), List.of());
            GenerationResult result;
            try (GenerationSession session = stateIn != null ? folder.generator().loadSession(stateIn)
                    : folder.generator().newSession()) {
                result = folder.generator().generate(session, text, config, json ? null : t -> {
                    out.print(t.text());
                    out.flush();
                });
                if (stateOut != null) {
                    session.save(stateOut);
                }
            }
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("text", result.text());
                o.put("tokens", result.tokens());
                o.put("finish_reason", result.finishReason().jsonName());
                o.put("tokens_per_second", Math.round(result.tokensPerSecond() * 10) / 10.0);
                o.put("prompt_tokens", result.promptTokens());
                o.put("seed", config.seed());
                out.println(new GsonBuilder().disableHtmlEscaping().create().toJson(o));
            } else {
                out.println();
                System.err.printf(Locale.ROOT, "[%d prompt tokens in %.2f s; %d generated in %.2f s, %.1f tokens/s; finish: %s%s]%n",
                        result.promptTokens(), result.prefillNanos() / 1e9, result.tokens().length,
                        result.decodeNanos() / 1e9, result.tokensPerSecond(), result.finishReason().jsonName(),
                        stateOut != null ? "; state saved to " + stateOut : "");
            }
        }
        return 0;
    }

    /**
     * Fails now, not after a whole generation has streamed, when {@code file} cannot be written: a
     * probe file is created beside it and deleted.
     */
    static void requireWritable(Path file, String option) {
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException(option + " " + file + " is a folder, not a file");
        }
        Path dir = file.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new IllegalArgumentException(option + " " + file + ": the folder " + dir + " does not exist");
        }
        try {
            Files.deleteIfExists(Files.createTempFile(dir, ".xlstm-write-check", ".tmp"));
        } catch (java.io.IOException | SecurityException e) {
            throw new IllegalArgumentException(option + " " + file + ": cannot write in " + dir + " (" + e + ")", e);
        }
        if (Files.exists(file) && !Files.isWritable(file)) {
            throw new IllegalArgumentException(option + " " + file + " exists and is not writable");
        }
    }
}
