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
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.io.IOException;
import java.lang.reflect.Type;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
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
 * {@code pad_token_id}, {@code stop} or {@code stop_strings}: see {@link GenerationArguments}), in
 * turn overridden by a request's own parameters ({@link GenerationRequest}, JSON {@code
 * parameters}); a bad value, contradicting values or an unknown argument fail {@code loadModel}
 * with a message naming them (a request's: that request). {@code batchPredict} decodes its prompts
 * together. Sampling without a seed draws a fresh seed per request, reported with the result.
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
        XLstmLanguageModel lm = XLstmBlockFactory.languageModel(model);
        Path dir = model.getModelPath();
        try {
            GenerationArguments.checkNames(dir, arguments, input != NDList.class);
        } catch (IOException e) {
            throw new TranslateException("cannot read " + dir.resolve("serving.properties"), e);
        }
        if (input == NDList.class) {
            return (Translator<I, O>) (output == NDList.class ? LogitsTranslator.ndList(lm) : LogitsTranslator.causalLm(lm));
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
            GenerationArguments config = GenerationArguments.read(dir, arguments, codec.endOfText());
            config.requireTokenIdsBelow(lm.getConfig().vocabSize());
            if (input == Input.class) {
                return (Translator<I, O>) new TextServingTranslator(lm, model.getNDManager(), codec, config);
            }
            return TextGenerationTranslator.of(input, output, lm, codec, config);
        } catch (IOException e) {
            throw new TranslateException("cannot read the tokenizer or generation settings in " + dir, e);
        }
    }
}
