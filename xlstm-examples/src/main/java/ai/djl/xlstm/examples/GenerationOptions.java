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

    // no defaultValue: picocli would apply it after parsing, over a value given as --max-tokens
    @Option(names = {"-n", "--max-new-tokens"}, paramLabel = "N",
            description = "the most tokens to generate (default: ${DEFAULT-VALUE}); also --max-tokens")
    int maxNewTokens = 128;

    @Option(names = "--max-tokens", paramLabel = "N", hidden = true, description = "the former name of --max-new-tokens")
    void setMaxTokens(int n) {
        maxNewTokens = n;
    }

    @Option(names = "--temperature", description = "0 for greedy (default: 0.8)")
    Float temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "keep the k most likely tokens, 0 for off (default: ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--top-p", description = "nucleus sampling mass in (0, 1] (default: 0.95)")
    Float topP;

    @Option(names = "--min-p", defaultValue = "0", description = "drop tokens below this fraction of the most likely one (default: ${DEFAULT-VALUE})")
    float minP;

    @Option(names = "--repetition-penalty", defaultValue = "1.0", description = "> 1 discourages repeats, 1 for off (default: ${DEFAULT-VALUE})")
    float repetitionPenalty;

    @Option(names = "--seed", description = "sampling seed (default: random)")
    Long seed;

    @Option(names = "--stop", paramLabel = "STR", description = "stop when the text reaches STR (repeatable; \\n is a newline)")
    List<String> stop = new ArrayList<>();

    @Option(names = "--prefill-segment", defaultValue = "512", description = "the most prompt tokens per forward pass (default: ${DEFAULT-VALUE})")
    int prefillSegment;

    private long resolvedSeed = Long.MIN_VALUE;

    /**
     * The generation config of these options, with the tokenizer's end-of-text token as EOS and BOS.
     *
     * @throws IllegalArgumentException naming the command-line option of a bad setting
     */
    GenerationConfig toConfig(int beams, float lengthPenalty, Long endOfText, List<String> defaultStops) {
        List<String> stops = new ArrayList<>();
        for (String s : stop.isEmpty() ? defaultStops : stop) {
            stops.add(s.replace("\\n", "\n").replace("\\t", "\t"));
        }
        try {
            return GenerationConfig.builder()
                    .maxNewTokens(maxNewTokens)
                    .temperature(temperature != null ? temperature : beams > 1 ? 0f : 0.8f)
                    .topK(topK)
                    .topP(topP != null ? topP : beams > 1 ? 1f : 0.95f)
                    .minP(minP)
                    .repetitionPenalty(repetitionPenalty)
                    .numBeams(beams)
                    .lengthPenalty(lengthPenalty)
                    .seed(seed())
                    .eosTokenIds(endOfText == null ? Set.of() : Set.of(endOfText))
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
