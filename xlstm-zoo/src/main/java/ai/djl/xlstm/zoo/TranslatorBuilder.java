package ai.djl.xlstm.zoo;

import java.util.Map;

/**
 * What the builders of the text translators share: generation arguments by their Hugging Face
 * names, set one by one or taken from a model's Criteria arguments.
 *
 * @param <B> the builder's own type
 */
abstract class TranslatorBuilder<B extends TranslatorBuilder<B>> {

    final TranslatorArguments.Collector arguments;

    TranslatorBuilder(HuggingFaceTextCodec tokenizer) {
        arguments = new TranslatorArguments.Collector(tokenizer);
    }

    /** This builder, as its own type. */
    abstract B self();

    /**
     * Sets a generation argument by its Hugging Face name ({@code max_new_tokens}, {@code
     * temperature}, {@code do_sample}, {@code top_k}, {@code top_p}, {@code seed}, {@code stop},
     * ...: the names of {@link XLstmTranslatorFactory}), overriding the model folder's {@code
     * generation_config.json} (a serving request's {@code parameters} override it in turn); a later
     * value for the same name replaces an earlier one.
     *
     * @param name the Hugging Face name
     * @param value its value (a number, a boolean, a string or a list, as in JSON)
     * @return this builder
     * @throws IllegalArgumentException naming an unknown argument or a bad value
     */
    public B optArgument(String name, Object value) {
        arguments.argument(name, value);
        return self();
    }

    /**
     * Takes the generation arguments among a model's Criteria {@code arguments} (the others,
     * DJL's own and the keys of {@code serving.properties}, are left to DJL), as DJL's translator
     * builders do.
     *
     * @param criteria a model's Criteria arguments
     * @throws IllegalArgumentException naming a generation argument of a bad value
     */
    public void configure(Map<String, ?> criteria) {
        arguments.criteria(criteria);
    }
}
