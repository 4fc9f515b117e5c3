package ai.djl.xlstm.zoo;

import ai.djl.Model;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What the builders of the text translators collect (the tokenizer and the generation arguments by
 * Hugging Face name), and the settings they resolve to for a model: its folder's {@code
 * generation_config.json} overridden by the arguments ({@link GenerationArguments}, the one place
 * that resolves them), once per model.
 */
final class TranslatorArguments {

    /** A model's language model and settings. */
    record Bound(Model model, XLstmLanguageModel languageModel, GenerationArguments settings) {}

    private final HuggingFaceTextCodec codec;
    private final Map<String, Object> arguments;
    private final GenerationArguments.Layer layer;
    private volatile Bound bound;

    private TranslatorArguments(HuggingFaceTextCodec codec, Map<String, Object> arguments,
            GenerationArguments.Layer layer) {
        this.codec = codec;
        this.arguments = arguments;
        this.layer = layer;
    }

    HuggingFaceTextCodec codec() {
        return codec;
    }

    /**
     * The language model of {@code model} and the settings for it (resolved at the first call for a
     * model; a translator is normally used with one).
     *
     * @throws IllegalArgumentException if the model is not an xLSTM language model, or naming the
     *     argument or {@code generation_config.json} field of a bad value, or those that contradict
     *     each other, or a token id outside the model's vocabulary
     * @throws IOException if {@code generation_config.json} cannot be read
     */
    Bound bind(Model model) throws IOException {
        Bound b = bound;
        if (b != null && b.model() == model) {
            return b;
        }
        XLstmLanguageModel lm = XLstmBlockFactory.languageModel(model);
        GenerationArguments settings = GenerationArguments.read(model.getModelPath(), Map.of(), arguments, layer,
                codec.endOfText());
        settings.requireTokenIdsBelow(lm.getConfig().vocabSize());
        b = new Bound(model, lm, settings);
        bound = b;
        return b;
    }

    /** Collects the arguments of a builder, checking each as it comes. */
    static final class Collector {
        private final HuggingFaceTextCodec codec;
        private final Map<String, Object> arguments = new LinkedHashMap<>();
        private boolean fromCriteriaOnly = true;

        Collector(HuggingFaceTextCodec codec) {
            this.codec = Objects.requireNonNull(codec, "tokenizer");
        }

        /** One argument by Hugging Face name, checked alone. */
        void argument(String name, Object value) {
            Objects.requireNonNull(name, "name");
            if (value == null) {
                throw new IllegalArgumentException(GenerationArguments.TRANSLATOR.one() + " '" + name + "' is null");
            }
            GenerationArguments.checkArguments(Map.of(name, value), GenerationArguments.TRANSLATOR);
            arguments.put(name, value);
            fromCriteriaOnly = false;
        }

        /** The generation arguments among a model's Criteria arguments, each checked alone. */
        void criteria(Map<String, ?> criteria) {
            Map<String, Object> own = new LinkedHashMap<>();
            for (String name : GenerationArguments.NAMES) {
                Object value = criteria.get(name);
                if (value != null) {
                    own.put(name, value);
                }
            }
            for (Map.Entry<String, Object> e : own.entrySet()) {
                GenerationArguments.checkArguments(Map.of(e.getKey(), e.getValue()), GenerationArguments.CRITERIA);
            }
            arguments.putAll(own);
        }

        /** The arguments collected, checked together. */
        TranslatorArguments build() {
            GenerationArguments.Layer layer = fromCriteriaOnly ? GenerationArguments.CRITERIA
                    : GenerationArguments.TRANSLATOR;
            Map<String, Object> all = Collections.unmodifiableMap(new LinkedHashMap<>(arguments));
            GenerationArguments.checkArguments(all, layer);
            return new TranslatorArguments(codec, all, layer);
        }
    }
}
