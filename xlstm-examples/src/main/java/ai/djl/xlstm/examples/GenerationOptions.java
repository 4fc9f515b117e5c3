package ai.djl.xlstm.examples;

import ai.djl.xlstm.generate.GenerationConfig;

import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The token-choice options {@code generate} and {@code chat} share (a picocli mixin); beam search
 * is {@code generate}'s own ({@code --num-beams}, {@code --length-penalty}).
 */
final class GenerationOptions {

    private static final Map<String, String> FLAGS = Map.of(
            "maxNewTokens", "--max-new-tokens", "temperature", "--temperature", "topK", "--top-k", "topP", "--top-p",
            "minP", "--min-p", "repetitionPenalty", "--repetition-penalty", "numBeams", "--num-beams",
            "lengthPenalty", "--length-penalty", "prefillSegment", "--prefill-segment", "stopStrings", "--stop");

    // no defaultValue here: an option left out takes the model's generation_config.json, else the
    // value its description names (and picocli would apply a default over a value given as --max-tokens)
    @Option(names = {"-n", "--max-new-tokens"}, paramLabel = "N",
            description = "the most tokens to generate (default: the model's generation_config.json, else 128); also --max-tokens")
    Integer maxNewTokens;

    @Option(names = "--max-tokens", paramLabel = "N", hidden = true, description = "the former name of --max-new-tokens")
    void setMaxTokens(int n) {
        maxNewTokens = n;
    }

    private static <T> T pick(T given, boolean beams, T forBeams, T fromModel, T otherwise) {
        return given != null ? given : beams ? forBeams : fromModel != null ? fromModel : otherwise;
    }

    @Option(names = "--temperature", description = "0 for greedy (default: the model's generation_config.json, else 0.8)")
    Float temperature;

    @Option(names = "--top-k", description = "keep the k most likely tokens, 0 for off (default: the model's, else 0)")
    Integer topK;

    @Option(names = "--top-p", description = "nucleus sampling mass in (0, 1] (default: the model's, else 0.95)")
    Float topP;

    @Option(names = "--min-p", description = "drop tokens below this fraction of the most likely one (default: the model's, else 0)")
    Float minP;

    @Option(names = "--repetition-penalty", description = "> 1 discourages repeats, 1 for off (default: the model's, else 1.0)")
    Float repetitionPenalty;

    @Option(names = "--seed", description = "sampling seed (default: random)")
    Long seed;

    @Option(names = "--stop", paramLabel = "STR", description = "stop when the text reaches STR (repeatable; \\n is a newline)")
    List<String> stop = new ArrayList<>();

    @Option(names = "--prefill-segment", defaultValue = "512", description = "the most prompt tokens per forward pass (default: ${DEFAULT-VALUE})")
    int prefillSegment;

    private long resolvedSeed = Long.MIN_VALUE;

    /**
     * The generation config of these options. An option left out takes the model's {@code
     * generation_config.json} ({@code model}, null when the folder has none), else the CLI's default;
     * EOS is the model's, else the tokenizer's end-of-text token, which is also BOS.
     *
     * @throws IllegalArgumentException naming the command-line option of a bad setting
     */
    GenerationConfig toConfig(int beams, float lengthPenalty, Long endOfText, List<String> defaultStops,
            GenerationConfig model) {
        List<String> stops = new ArrayList<>();
        for (String s : stop.isEmpty() ? defaultStops : stop) {
            stops.add(s.replace("\\n", "\n").replace("\\t", "\t"));
        }
        boolean b = beams > 1;
        GenerationConfig m = model;
        try {
            return GenerationConfig.builder()
                    .maxNewTokens(pick(maxNewTokens, false, 0, m == null ? null : m.maxNewTokens(), 128))
                    .temperature(pick(temperature, b, 0f, m == null ? null : m.temperature(), 0.8f))
                    .topK(pick(topK, b, 0, m == null ? null : m.topK(), 0))
                    .topP(pick(topP, b, 1f, m == null ? null : m.topP(), 0.95f))
                    .minP(pick(minP, b, 0f, m == null ? null : m.minP(), 0f))
                    .repetitionPenalty(pick(repetitionPenalty, false, 1f, m == null ? null : m.repetitionPenalty(), 1f))
                    .numBeams(beams)
                    .lengthPenalty(lengthPenalty)
                    .seed(seed())
                    .eosTokenIds(m != null && !m.eosTokenIds().isEmpty() ? m.eosTokenIds()
                            : endOfText == null ? Set.of() : Set.of(endOfText))
                    .bosTokenId(endOfText)
                    .stopStrings(stops)
                    .prefillSegment(prefillSegment)
                    .build();
        } catch (IllegalArgumentException e) {
            String message = e.getMessage();
            String setting = message.split("[ (]", 2)[0];
            String flag = FLAGS.get(setting);
            throw new IllegalArgumentException(flag == null ? message : flag + ": " + message, e);
        }
    }

    /** The seed: the given one, or one drawn once at random. */
    long seed() {
        if (resolvedSeed == Long.MIN_VALUE) {
            resolvedSeed = seed != null ? seed : new java.security.SecureRandom().nextInt(Integer.MAX_VALUE);
        }
        return resolvedSeed;
    }
}
