package ai.djl.xlstm.zoo;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A prompt with its own generation settings: the input of {@code Criteria<GenerationRequest, O>}
 * for the same outputs as a {@code String} prompt ({@code String}, {@code GenerationResult}, {@code
 * TextStream}). One model then serves requests with different settings:
 *
 * <pre>{@code
 * GenerationRequest request = GenerationRequest.builder("It is a truth universally acknowledged")
 *         .parameter("max_new_tokens", 40).parameter("temperature", 0.7).parameter("seed", 1).build();
 * String text = predictor.predict(request);
 * }</pre>
 *
 * <p>The parameters are the generation arguments by their Hugging Face names (see {@link
 * XLstmTranslatorFactory}); they override the model's settings (its {@code generation_config.json}
 * and the Criteria arguments) for this request alone, by the same rules. Names and values are
 * checked here, each alone; how they combine with the model's settings is checked when the request
 * runs ({@code predict} then fails naming the values that contradict each other).
 *
 * @param prompt the text to complete (empty: start from the BOS token)
 * @param parameters the generation arguments of this request, by Hugging Face name (unmodifiable,
 *     in the order given)
 */
public record GenerationRequest(String prompt, Map<String, Object> parameters) {

    /**
     * Checks the prompt and each parameter.
     *
     * @param prompt the text to complete (empty: start from the BOS token)
     * @param parameters the generation arguments of this request, by Hugging Face name (null: none);
     *     copied
     * @throws IllegalArgumentException naming an unknown parameter or a bad value
     */
    public GenerationRequest {
        Objects.requireNonNull(prompt, "prompt");
        Map<String, Object> copy = new LinkedHashMap<>();
        if (parameters != null) {
            for (Map.Entry<String, Object> e : parameters.entrySet()) {
                if (e.getKey() == null || e.getValue() == null) {
                    throw new IllegalArgumentException("request parameter '" + e.getKey() + "' is null");
                }
                copy.put(e.getKey(), e.getValue());
            }
        }
        GenerationArguments.checkRequest(copy, List.of());
        parameters = Collections.unmodifiableMap(copy);
    }

    /**
     * A builder for a request to complete {@code prompt}.
     *
     * @param prompt the text to complete (empty: start from the BOS token)
     * @return a builder without parameters
     */
    public static Builder builder(String prompt) {
        return new Builder(prompt);
    }

    /** Builds a {@link GenerationRequest}; {@link #build()} validates. */
    public static final class Builder {
        private final String prompt;
        private final Map<String, Object> parameters = new LinkedHashMap<>();

        private Builder(String prompt) {
            this.prompt = prompt;
        }

        /**
         * Sets a generation argument for this request (a later value for the same name replaces
         * an earlier one).
         *
         * @param name the Hugging Face name, e.g. {@code max_new_tokens}, {@code temperature},
         *     {@code do_sample}, {@code seed}, {@code stop}
         * @param value its value (a number, a boolean, a string or a list, as in JSON)
         * @return this builder
         */
        public Builder parameter(String name, Object value) {
            parameters.put(name, value);
            return this;
        }

        /**
         * Validates and builds.
         *
         * @return the request
         * @throws IllegalArgumentException naming an unknown parameter or a bad value
         */
        public GenerationRequest build() {
            return new GenerationRequest(prompt, parameters);
        }
    }
}
