package ai.djl.xlstm.examples;

import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.zoo.XLstmTranslatorFactory;

import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The token-choice options {@code generate} and {@code chat} share (a picocli mixin); beam search
 * is {@code generate}'s own ({@code --num-beams}, {@code --length-penalty}).
 *
 * <p>The options resolve as Criteria arguments do: the ones given are collected under their Hugging
 * Face names ({@link #arguments}) and applied over the model's {@code generation_config.json} by
 * {@link XLstmTranslatorFactory#generationConfig}; what neither sets takes {@link GenerationConfig#builder()}'s default.
 * The one difference is {@link #SAMPLING}, which stands in for a missing {@code
 * generation_config.json}: the command line samples by default.
 */
final class GenerationOptions {

    /** The command line's settings for a model folder without a {@code generation_config.json}. */
    static final Map<String, Object> SAMPLING = Map.of("temperature", 0.8f, "top_p", 0.95f);

    /** The option of each Hugging Face name, for messages. */
    private static final Map<String, String> FLAGS = Map.of(
            "max_new_tokens", "--max-new-tokens", "temperature", "--temperature", "top_k", "--top-k", "top_p", "--top-p",
            "min_p", "--min-p", "repetition_penalty", "--repetition-penalty", "num_beams", "--num-beams",
            "length_penalty", "--length-penalty", "seed", "--seed", "stop", "--stop");

    private static final Pattern ARGUMENT = Pattern.compile("Criteria argument '(\\w+)'");

    // no defaultValue here: an option left out takes the model's generation_config.json, else the
    // value its description names
    @Option(names = {"-n", "--max-new-tokens"}, paramLabel = "N",
            description = "the most tokens to generate (default: the model's generation_config.json, else 128)")
    Integer maxNewTokens;

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

    @Option(names = "--prefill-segment", paramLabel = "<prefillSegment>",
            description = "the most prompt tokens per forward pass (default: 512)")
    Integer prefillSegment;

    private long resolvedSeed = Long.MIN_VALUE;

    /**
     * The options given, under their Hugging Face names ({@link XLstmTranslatorFactory}), with the seed
     * drawn when none is given, and {@code defaultStops} when no {@code --stop} is.
     *
     * @param numBeams {@code --num-beams}, or null when not given; with more than 1 beam, {@code
     *     do_sample} is false (beam search is deterministic)
     * @param lengthPenalty {@code --length-penalty}, or null when not given
     */
    Map<String, Object> arguments(Integer numBeams, Float lengthPenalty, List<String> defaultStops) {
        Map<String, Object> m = new LinkedHashMap<>();
        put(m, "max_new_tokens", maxNewTokens);
        put(m, "temperature", temperature);
        put(m, "top_k", topK);
        put(m, "top_p", topP);
        put(m, "min_p", minP);
        put(m, "repetition_penalty", repetitionPenalty);
        put(m, "num_beams", numBeams);
        put(m, "length_penalty", lengthPenalty);
        if (numBeams != null && numBeams > 1) {
            m.put("do_sample", false);
        }
        m.put("seed", seed());
        List<String> stops = new ArrayList<>();
        for (String s : stop.isEmpty() ? defaultStops : stop) {
            stops.add(s.replace("\\n", "\n").replace("\\t", "\t"));
        }
        if (!stops.isEmpty()) {
            m.put("stop", stops);
        }
        return m;
    }

    private static void put(Map<String, Object> m, String name, Object value) {
        if (value != null) {
            m.put(name, value);
        }
    }

    /**
     * The generation config of these options over the model folder {@code dir} (its {@code
     * generation_config.json}, else {@link #SAMPLING}), resolved by {@link
     * XLstmTranslatorFactory#generationConfig} as
     * Criteria arguments are; EOS is the model's, else the tokenizer's end-of-text token, which is
     * also BOS.
     *
     * @throws IllegalArgumentException naming the command-line option of a bad setting
     */
    GenerationConfig toConfig(Path dir, Integer numBeams, Float lengthPenalty, Long endOfText,
            List<String> defaultStops) throws IOException {
        Map<String, Object> arguments = arguments(numBeams, lengthPenalty, defaultStops);
        OptionalLong eot = endOfText == null ? OptionalLong.empty() : OptionalLong.of(endOfText);
        GenerationConfig config;
        try {
            config = XLstmTranslatorFactory.generationConfig(dir, SAMPLING, arguments, eot);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(withFlags(e.getMessage()), e);
        }
        try {
            return prefillSegment == null ? config : config.toBuilder().prefillSegment(prefillSegment).build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--prefill-segment: " + e.getMessage(), e);
        }
    }

    /** {@code message} with each "Criteria argument 'top_p'" named as its option, {@code --top-p}. */
    private static String withFlags(String message) {
        Matcher m = ARGUMENT.matcher(message);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String flag = FLAGS.get(m.group(1));
            m.appendReplacement(out, Matcher.quoteReplacement(flag == null ? m.group() : flag));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** The seed: the given one, or one drawn once at random. */
    long seed() {
        if (resolvedSeed == Long.MIN_VALUE) {
            resolvedSeed = seed != null ? seed : new java.security.SecureRandom().nextInt(Integer.MAX_VALUE);
        }
        return resolvedSeed;
    }
}
