package ai.djl.xlstm.zoo;

import ai.djl.Model;
import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.modality.nlp.generate.CausalLMOutput;
import ai.djl.ndarray.NDList;
import ai.djl.translate.TranslateException;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorFactory;
import ai.djl.util.Pair;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.GenerationConfig;

import java.io.IOException;
import java.lang.reflect.Type;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The translators of xLSTM zoo models:
 *
 * <ul>
 *   <li>{@code String -> String}: the completion of a prompt;
 *   <li>{@code String -> GenerationResult}: text, tokens, finish reason, log-probabilities, seed;
 *   <li>{@code String -> TextStream}: the text as it is generated ({@code
 *       predictor.streamingPredict(prompt).getIterativeOutput()}, or {@code predict} for all of it);
 *   <li>{@link GenerationRequest} {@code -> String}, {@code GenerationResult} or {@code TextStream}:
 *       the same for a prompt with its own generation settings;
 *   <li>{@code Input -> Output}: JSON requests as DJL Serving's LLM handlers take them ({@code
 *       {"inputs": "...", "parameters": {...}, "stream": false}}), for serving a model folder with
 *       DJL Serving (see {@link TextServingTranslator}'s format in the README);
 *   <li>{@code NDList -> NDList}: token ids to logits (and state to state);
 *   <li>{@code NDList -> CausalLMOutput}: one step for DJL's {@code TextGenerator} (greedy search).
 * </ul>
 *
 * <p>The text translators need the model folder's {@code tokenizer.json}. Their settings are the
 * folder's {@code generation_config.json} overridden by Criteria arguments named as in Hugging Face
 * {@code generate} ({@code max_new_tokens} or {@code max_length}, {@code do_sample}, {@code
 * temperature}, {@code top_k}, {@code top_p}, {@code min_p}, {@code repetition_penalty}, {@code
 * num_beams}, {@code length_penalty}, {@code seed}, {@code eos_token_id}, {@code bos_token_id},
 * {@code pad_token_id}, {@code stop} or {@code stop_strings}), in turn overridden by a request's
 * own parameters ({@link GenerationRequest}, JSON {@code parameters}); a bad value, contradicting
 * values or an unknown argument fail {@code loadModel} with a message naming them (a request's:
 * that request). {@code batchPredict} decodes its prompts together. Sampling without a seed draws a
 * fresh seed per request, reported with the result. The rules:
 *
 * <ul>
 *   <li>{@code max_new_tokens}, or {@code max_length}: the prompt's tokens plus the new ones (as in
 *       Hugging Face; each request then generates {@code max_length} minus its prompt's length, and
 *       a longer prompt is refused). Not both. In {@code generation_config.json}, {@code
 *       max_new_tokens} wins over {@code max_length};
 *   <li>{@code do_sample}: {@code false} chooses greedily (the sampling arguments given with it must
 *       be off), {@code true} samples at the given temperature, else the folder's, else 1. Without
 *       it the temperature decides (0 is greedy);
 *   <li>{@code eos_token_id} (an id or a list) replaces the folder's and the tokenizer's
 *       end-of-text token; an empty prompt starts from {@code bos_token_id}, else the end-of-text
 *       token; {@code pad_token_id} is checked and otherwise unused (no path pads);
 *   <li>{@code stop} or {@code stop_strings}: a string or a list of strings, not both.
 * </ul>
 *
 * <p>To give a translator your own tokenizer or settings, build it yourself and pass it with {@code
 * Criteria.Builder.optTranslator}: {@link TextGenerationTranslator#builder}, {@link
 * TextServingTranslator#builder}, {@link LogitsTranslator#builder}. {@link #generationConfig}
 * resolves the same settings to a {@link GenerationConfig} for {@code ai.djl.xlstm.generate.Generator}.
 *
 * <p><b>Threads.</b> A {@code ZooModel} and its translator are shared safely by any number of
 * {@code Predictor}s; a {@code Predictor} serves one thread at a time (DJL's rule), so give each
 * thread its own. Each request generates from its own zero state, so equal prompts with equal
 * settings give equal outputs on every thread (sampling too, once the seed is given).
 *
 * <p>This factory answers {@code isSupported} with true for every pair, so that DJL asks it rather
 * than its own default factory, whose error lists only {@code (NDList, NDList)}: an unsupported
 * pair fails {@code loadModel} with a {@code ModelNotFoundException} whose cause names the pairs
 * above.
 */
public class XLstmTranslatorFactory implements TranslatorFactory {

    /** Creates the factory (DJL does, from the {@code translatorFactory} argument). */
    public XLstmTranslatorFactory() {}

    /**
     * The generation settings the text translators would use for the model folder {@code
     * modelDir}: its {@code generation_config.json} (else {@code defaults}) overridden by {@code
     * arguments}, both by their Hugging Face names and the rules above. The tokenizer's
     * end-of-text token ends a sequence unless {@code eos_token_id} says otherwise, and starts an
     * empty prompt unless {@code bos_token_id} does. A {@code max_length}, which counts the prompt
     * too, cannot be expressed in a {@link GenerationConfig} and is left out (the translators apply
     * it to each prompt): give {@code max_new_tokens}.
     *
     * <pre>{@code
     * GenerationConfig config = XLstmTranslatorFactory.generationConfig(dir, Map.of(),
     *         Map.of("max_new_tokens", 40, "temperature", 0.7), tokenizer.endOfText());
     * }</pre>
     *
     * @param modelDir the model folder, or null for none
     * @param defaults the settings that stand in for a missing {@code generation_config.json}
     *     (empty: {@link GenerationConfig#builder()}'s defaults)
     * @param arguments the settings that override the folder's, as Criteria arguments do
     * @param endOfText the tokenizer's end-of-text token ({@link HuggingFaceTextCodec#endOfText()})
     * @return the generation settings
     * @throws IllegalArgumentException naming the argument, default or {@code
     *     generation_config.json} field of a bad value or an unknown name, or those whose values
     *     contradict each other
     * @throws IOException if {@code generation_config.json} cannot be read
     */
    public static GenerationConfig generationConfig(Path modelDir, Map<String, ?> defaults, Map<String, ?> arguments,
            OptionalLong endOfText) throws IOException {
        Objects.requireNonNull(defaults, "defaults");
        Objects.requireNonNull(arguments, "arguments");
        Objects.requireNonNull(endOfText, "endOfText");
        GenerationArguments.requireKnown(arguments.keySet(), GenerationArguments.CRITERIA.one(), List.of());
        return GenerationArguments.read(modelDir, defaults, arguments, endOfText).config();
    }

    private static final Set<Pair<Type, Type>> SUPPORTED = Set.of(
            new Pair<>(String.class, String.class),
            new Pair<>(String.class, GenerationResult.class),
            new Pair<>(String.class, TextStream.class),
            new Pair<>(GenerationRequest.class, String.class),
            new Pair<>(GenerationRequest.class, GenerationResult.class),
            new Pair<>(GenerationRequest.class, TextStream.class),
            new Pair<>(Input.class, Output.class),
            new Pair<>(NDList.class, NDList.class),
            new Pair<>(NDList.class, CausalLMOutput.class));

    /** {@inheritDoc} */
    @Override
    public Set<Pair<Type, Type>> getSupportedTypes() {
        return SUPPORTED;
    }

    /**
     * True for every pair: {@link #newInstance} refuses an unsupported one, naming the supported
     * pairs (DJL's default factory, which DJL falls back to otherwise, would name only its own).
     *
     * @param input the input class
     * @param output the output class
     * @return true
     */
    @Override
    public boolean isSupported(Class<?> input, Class<?> output) {
        return true;
    }

    /** Whether this factory translates {@code input} to {@code output}. */
    static boolean translates(Class<?> input, Class<?> output) {
        return SUPPORTED.contains(new Pair<Type, Type>(input, output));
    }

    /** The message for an unsupported pair: the pairs this factory supports, by name. */
    static String unsupported(Class<?> input, Class<?> output) {
        return "xLSTM models translate " + SUPPORTED.stream()
                .map(p -> name(p.getKey()) + " -> " + name(p.getValue()))
                .sorted().toList() + ", not " + name(input) + " -> " + name(output);
    }

    private static String name(Type type) {
        String name = type.getTypeName();
        return name.startsWith("java.lang.") ? name.substring("java.lang.".length()) : name;
    }

    /** {@inheritDoc} */
    @Override
    @SuppressWarnings("unchecked")
    public <I, O> Translator<I, O> newInstance(Class<I> input, Class<O> output, Model model, Map<String, ?> arguments)
            throws TranslateException {
        if (!translates(input, output)) {
            throw new TranslateException(unsupported(input, output));
        }
        XLstmBlockFactory.languageModel(model); // refuses another model before its files are read
        Path dir = model.getModelPath();
        try {
            GenerationArguments.checkNames(dir, arguments, input != NDList.class);
        } catch (IOException e) {
            throw new TranslateException("cannot read " + dir.resolve("serving.properties"), e);
        }
        if (input == NDList.class) {
            return (Translator<I, O>) LogitsTranslator.builder().build(output);
        }
        Path tokenizer = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tokenizer)) {
            throw new IllegalArgumentException("no tokenizer.json in " + dir + ": text translators need one"
                    + " (load with NDList input and output for token ids)");
        }
        try {
            HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(tokenizer);
            // the tokenizer's native memory is freed with the model
            model.getNDManager().attachInternal("xlstm-tokenizer-" + System.identityHashCode(codec), codec);
            if (input == Input.class) {
                TextServingTranslator serving = TextServingTranslator.builder(codec, arguments).build();
                serving.bind(model); // a bad setting fails loadModel
                return (Translator<I, O>) serving;
            }
            TextGenerationTranslator<I, O> text = TextGenerationTranslator.builder(codec, arguments).build(input, output);
            text.bind(model);
            return text;
        } catch (IOException e) {
            throw new TranslateException("cannot read the tokenizer or generation settings in " + dir, e);
        }
    }
}
