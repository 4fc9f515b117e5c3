package ai.djl.xlstm.zoo;

import ai.djl.Model;
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
 *   <li>{@code String -> GenerationResult}: text, tokens, finish reason, log-probabilities;
 *   <li>{@code String -> TextStream}: the text as it is generated ({@code
 *       predictor.streamingPredict(prompt).getIterativeOutput()}, or {@code predict} for all of it);
 *   <li>{@code NDList -> NDList}: token ids to logits (and state to state);
 *   <li>{@code NDList -> CausalLMOutput}: one step for DJL's {@code TextGenerator} (greedy search).
 * </ul>
 *
 * <p>The text translators need the model folder's {@code tokenizer.json}. Their settings are the
 * folder's {@code generation_config.json} overridden by Criteria arguments named as in Hugging Face
 * {@code generate} ({@code max_new_tokens} or {@code max_length}, {@code do_sample}, {@code
 * temperature}, {@code top_k}, {@code top_p}, {@code min_p}, {@code repetition_penalty}, {@code
 * num_beams}, {@code length_penalty}, {@code seed}, {@code eos_token_id}, {@code bos_token_id},
 * {@code pad_token_id}, {@code stop} or {@code stop_strings}: see {@link GenerationArguments}); a
 * bad value, contradicting values or an unknown argument fail {@code loadModel} with a message
 * naming them.
 *
 * <p><b>Threads.</b> A {@code ZooModel} and its translator are shared safely by any number of
 * {@code Predictor}s; a {@code Predictor} serves one thread at a time (DJL's rule), so give each
 * thread its own. Each request generates from its own zero state with the same settings, so equal
 * prompts give equal outputs on every thread (sampling included: the seed is a setting).
 */
public class XLstmTranslatorFactory implements TranslatorFactory {

    private static final Set<Pair<Type, Type>> SUPPORTED = Set.of(
            new Pair<>(String.class, String.class),
            new Pair<>(String.class, GenerationResult.class),
            new Pair<>(String.class, TextStream.class),
            new Pair<>(NDList.class, NDList.class),
            new Pair<>(NDList.class, CausalLMOutput.class));

    /** {@inheritDoc} */
    @Override
    public Set<Pair<Type, Type>> getSupportedTypes() {
        return SUPPORTED;
    }

    /** {@inheritDoc} */
    @Override
    @SuppressWarnings("unchecked")
    public <I, O> Translator<I, O> newInstance(Class<I> input, Class<O> output, Model model, Map<String, ?> arguments)
            throws TranslateException {
        if (!isSupported(input, output)) {
            throw new IllegalArgumentException("xLSTM models translate " + SUPPORTED.stream()
                    .map(p -> ((Class<?>) p.getKey()).getSimpleName() + " -> " + ((Class<?>) p.getValue()).getSimpleName())
                    .sorted().toList() + ", not " + input.getSimpleName() + " -> " + output.getSimpleName());
        }
        XLstmLanguageModel lm = XLstmBlockFactory.languageModel(model);
        Path dir = model.getModelPath();
        try {
            GenerationArguments.checkNames(dir, arguments, input == String.class);
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
            if (output == String.class) {
                return (Translator<I, O>) TextGenerationTranslator.text(lm, codec, config);
            }
            if (output == GenerationResult.class) {
                return (Translator<I, O>) TextGenerationTranslator.result(lm, codec, config);
            }
            return (Translator<I, O>) TextGenerationTranslator.stream(lm, codec, config);
        } catch (IOException e) {
            throw new TranslateException("cannot read the tokenizer or generation settings in " + dir, e);
        }
    }
}
