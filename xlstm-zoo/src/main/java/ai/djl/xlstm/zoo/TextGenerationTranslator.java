package ai.djl.xlstm.zoo;

import ai.djl.Model;
import ai.djl.inference.streaming.StreamingTranslator;
import ai.djl.ndarray.NDList;
import ai.djl.translate.Batchifier;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import ai.djl.xlstm.generate.GeneratedToken;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.GenerationSession;
import ai.djl.xlstm.generate.Generator;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * A prompt in, generated text out: {@code String} or {@link GenerationRequest} (a prompt with its
 * own settings) to {@code String} (the completion), {@code GenerationResult} or {@code TextStream}
 * (streaming with {@code predictor.streamingPredict}).
 *
 * <p>{@link XLstmTranslatorFactory} makes one for {@code Criteria} with these types; build one
 * yourself to give it your own tokenizer or settings:
 *
 * <pre>{@code
 * HuggingFaceTextCodec tokenizer = HuggingFaceTextCodec.load(dir.resolve("tokenizer.json"));
 * Criteria<String, String> criteria = Criteria.builder()
 *         .setTypes(String.class, String.class)
 *         .optModelPath(dir)
 *         .optTranslator(TextGenerationTranslator.builder(tokenizer)
 *                 .optArgument("max_new_tokens", 40)
 *                 .optArgument("temperature", 0.7)
 *                 .build())
 *         .build();
 * }</pre>
 *
 * <p>The settings are the model folder's {@code generation_config.json} overridden by the builder's
 * arguments (Hugging Face names, the same rules as Criteria arguments: see {@link
 * XLstmTranslatorFactory}), in turn overridden by a {@link GenerationRequest}'s parameters. They are
 * resolved for a model when a predictor first uses the translator (a contradiction between the
 * folder and the arguments then fails that predict, naming them).
 *
 * <p>{@code batchPredict} decodes its prompts together through the {@link Generator}'s batched
 * path, which gives each prompt the tokens it gets alone (greedy; sampling with the seed its result
 * reports). Generation runs on the recurrent state inside the request's {@link TranslatorContext}:
 * its manager holds the states and every step's scratch, and is freed when the request ends (for a
 * stream: when the stream ends or is closed). The block's own forward pass sees an empty input,
 * which is a no-op.
 *
 * <p>Thread-safe: the translator holds only immutable settings and the tokenizer; each request
 * gets its own generator and sessions. It does not own the tokenizer: close the tokenizer when no
 * model uses the translator any more (the factory's translators close theirs with the model).
 *
 * @param <I> the input: {@code String} or {@link GenerationRequest}
 * @param <O> the output: {@code String}, {@code GenerationResult} or {@link TextStream}
 */
public final class TextGenerationTranslator<I, O> implements Translator<I, O>, StreamingTranslator<I, O> {

    private static final String STREAM = "xlstm.stream";
    private static final String RESULTS = "xlstm.results";

    private final TranslatorArguments arguments;
    private final Function<TextStream, O> output;

    private TextGenerationTranslator(TranslatorArguments arguments, Function<TextStream, O> output) {
        this.arguments = arguments;
        this.output = output;
    }

    /**
     * A builder of a translator that generates with {@code tokenizer}.
     *
     * @param tokenizer the model's tokenizer; the translator does not close it
     * @return a builder without arguments (the model folder's settings)
     */
    public static Builder builder(HuggingFaceTextCodec tokenizer) {
        return new Builder(tokenizer);
    }

    /**
     * A builder of a translator that generates with {@code tokenizer}, configured with the
     * generation arguments among a model's Criteria {@code arguments} ({@link Builder#configure}).
     *
     * @param tokenizer the model's tokenizer; the translator does not close it
     * @param arguments a model's Criteria arguments
     * @return a builder with those generation arguments
     * @throws IllegalArgumentException naming a generation argument of a bad value
     */
    public static Builder builder(HuggingFaceTextCodec tokenizer, Map<String, ?> arguments) {
        Builder builder = builder(tokenizer);
        builder.configure(arguments);
        return builder;
    }

    /** Builds a {@link TextGenerationTranslator}; each setter checks its value. */
    public static final class Builder extends TranslatorBuilder<Builder> {

        private Builder(HuggingFaceTextCodec tokenizer) {
            super(tokenizer);
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * Builds the translator of prompts to completions.
         *
         * @return a {@code String -> String} translator
         * @throws IllegalArgumentException naming the arguments that contradict each other
         */
        public TextGenerationTranslator<String, String> build() {
            return build(String.class, String.class);
        }

        /**
         * Builds the translator from {@code input} to {@code output}.
         *
         * @param input {@code String} or {@link GenerationRequest}
         * @param output {@code String} (the completion's text), {@code GenerationResult} (the whole
         *     result) or {@link TextStream} (the text as it is generated)
         * @param <I> the input type
         * @param <O> the output type
         * @return the translator
         * @throws IllegalArgumentException naming an unsupported input or output, or the arguments
         *     that contradict each other
         */
        @SuppressWarnings("unchecked")
        public <I, O> TextGenerationTranslator<I, O> build(Class<I> input, Class<O> output) {
            Objects.requireNonNull(input, "input");
            Objects.requireNonNull(output, "output");
            if (input != String.class && input != GenerationRequest.class) {
                throw new IllegalArgumentException("input: a prompt is a String or a GenerationRequest, not "
                        + input.getName());
            }
            Function<TextStream, ?> out;
            if (output == String.class) {
                out = s -> s.result().text();
            } else if (output == GenerationResult.class) {
                out = TextStream::result;
            } else if (output == TextStream.class) {
                out = s -> s;
            } else {
                throw new IllegalArgumentException("output: a completion is a String, a GenerationResult or a"
                        + " TextStream, not " + output.getName());
            }
            return new TextGenerationTranslator<>(arguments.build(), (Function<TextStream, O>) out);
        }
    }

    /**
     * Resolves the settings for {@code model} now (the factory's translators: so that a bad
     * setting fails {@code loadModel}).
     */
    void bind(Model model) throws IOException {
        arguments.bind(model);
    }

    /**
     * Resolves the settings for the predictor's model: its folder's {@code generation_config.json}
     * overridden by this translator's arguments.
     *
     * @param ctx the predictor's context
     * @throws IllegalArgumentException if the model is not an xLSTM language model, or naming the
     *     settings of a bad value or that contradict each other
     * @throws IOException if {@code generation_config.json} cannot be read
     */
    @Override
    public void prepare(TranslatorContext ctx) throws IOException {
        arguments.bind(ctx.getModel());
    }

    /** The prompt and the parameters of a request. */
    private PromptBatches.Job job(TranslatorArguments.Bound bound, I input) {
        Objects.requireNonNull(input, "prompt");
        if (input instanceof GenerationRequest r) {
            return PromptBatches.job(arguments.codec(), bound.settings(), r.prompt(), r.parameters());
        }
        return PromptBatches.job(arguments.codec(), bound.settings(), (String) input, Map.of());
    }

    /**
     * Not null, so that DJL's {@code batchPredict} hands the whole batch to {@link
     * #batchProcessInput}; nothing is stacked (the inputs are empty lists).
     *
     * @return {@link Batchifier#STACK}
     */
    @Override
    public Batchifier getBatchifier() {
        return Batchifier.STACK;
    }

    /**
     * Generates every prompt of the batch, prompts with equal settings as one decoding batch.
     *
     * @param ctx the request's context
     * @param inputs the prompts
     * @return an empty list (the results wait in the context for {@link #batchProcessOutput})
     * @throws IOException if the model folder's {@code generation_config.json} cannot be read
     */
    @Override
    public NDList batchProcessInput(TranslatorContext ctx, List<I> inputs) throws IOException {
        TranslatorArguments.Bound bound = arguments.bind(ctx.getModel());
        List<PromptBatches.Job> jobs = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            try {
                jobs.add(job(bound, inputs.get(i)));
            } catch (IllegalArgumentException e) {
                throw inputs.size() == 1 ? e : new IllegalArgumentException("prompt " + i + " of the batch: "
                        + e.getMessage(), e);
            }
        }
        PromptBatches.Outcomes outcomes = PromptBatches.collectAll(
                new Generator(bound.languageModel(), ctx.getNDManager(), arguments.codec()), jobs);
        GenerationResult[] results = outcomes.results();
        RuntimeException[] errors = outcomes.errors();
        for (int i = 0; i < errors.length; i++) {
            if (errors[i] != null) {
                throw errors.length == 1 ? errors[i] : new IllegalStateException("prompt " + i + " of the batch: "
                        + errors[i].getMessage(), errors[i]);
            }
        }
        ctx.setAttachment(RESULTS, results);
        return new NDList(); // the block's forward pass on an empty list is a no-op
    }

    /** {@inheritDoc} */
    @Override
    public List<O> batchProcessOutput(TranslatorContext ctx, NDList list) {
        List<O> out = new ArrayList<>();
        for (GenerationResult r : (GenerationResult[]) ctx.getAttachment(RESULTS)) {
            out.add(output.apply(new TextStream(new Finished(r))));
        }
        return out;
    }

    /**
     * One prompt, generated as its text is read (the path of {@code streamingPredict}).
     *
     * @param ctx the request's context
     * @param input the prompt
     * @return an empty list (the generation waits in the context for {@link #processOutput} or
     *     {@link #processStreamOutput})
     * @throws IOException if the model folder's {@code generation_config.json} cannot be read
     */
    @Override
    public NDList processInput(TranslatorContext ctx, I input) throws IOException {
        TranslatorArguments.Bound bound = arguments.bind(ctx.getModel());
        PromptBatches.Job job = job(bound, input);
        GenerationConfig config = PromptBatches.withSeed(job, 1);
        Generator generator = new Generator(bound.languageModel(), ctx.getNDManager(), arguments.codec());
        ctx.setAttachment(STREAM, new TextStream(config.numBeams() > 1
                ? new Finished(generator.generate(job.prompt(), config))
                : new Streamed(generator, job.prompt(), config)));
        return new NDList(); // the block's forward pass on an empty list is a no-op
    }

    /**
     * Not streaming: the whole generation runs before the request ends.
     *
     * @param ctx the request's context
     * @param list the block's (empty) output
     * @return the output for the prompt
     */
    @Override
    public O processOutput(TranslatorContext ctx, NDList list) {
        TextStream stream = (TextStream) ctx.getAttachment(STREAM);
        stream.result();
        return output.apply(stream);
    }

    /**
     * Streaming: the request (its memory) lives until the stream ends or is closed.
     *
     * @param ctx the request's context
     * @param list the block's (empty) output stream
     * @return the output, filled as the text is generated
     */
    @Override
    public StreamOutput<O> processStreamOutput(TranslatorContext ctx, Stream<NDList> list) {
        TextStream stream = (TextStream) ctx.getAttachment(STREAM);
        TextStream closing = new TextStream(new Closing(stream, list));
        return new StreamOutput<>() {
            @Override
            protected O buildAsyncOutput() {
                return output.apply(closing);
            }

            @Override
            protected void computeAsyncOutputInternal(O out) {
                closing.result();
            }

            @Override
            public O getIterativeOutputInternal() {
                return output.apply(closing);
            }
        };
    }

    /** {@inheritDoc} */
    @Override
    public Support getSupport() {
        return Support.BOTH;
    }

    /** Tokens pulled one at a time from the generator's token stream. */
    private static final class Streamed implements TextStream.Source {

        private final GenerationSession session;
        private final Generator.TokenStream tokens;
        private GenerationResult result;
        private boolean closed;

        Streamed(Generator generator, long[] prompt, GenerationConfig config) {
            session = generator.newSession();
            tokens = generator.stream(session, prompt, config);
        }

        @Override
        public String nextPiece() {
            if (closed && result == null) {
                return null;
            }
            while (result == null && tokens.hasNext()) {
                GeneratedToken t = tokens.next();
                if (!t.text().isEmpty()) {
                    return t.text();
                }
            }
            if (result == null) {
                result = tokens.result();
                close();
            }
            return null;
        }

        @Override
        public GenerationResult result() {
            while (result == null && !closed) {
                nextPiece();
            }
            if (result == null) {
                throw new IllegalStateException("the text stream was closed before generation finished");
            }
            return result;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                tokens.close();
                session.close();
            }
        }
    }

    /** A finished generation (beam search cannot stream) handed out as one piece. */
    private static final class Finished implements TextStream.Source {

        private final GenerationResult result;
        private boolean given;

        Finished(GenerationResult result) {
            this.result = result;
        }

        @Override
        public String nextPiece() {
            if (given || result.text() == null || result.text().isEmpty()) {
                return null;
            }
            given = true;
            return result.text();
        }

        @Override
        public GenerationResult result() {
            return result;
        }

        @Override
        public void close() {}
    }

    /** A stream that also ends DJL's request (closing its block stream frees its context). */
    private record Closing(TextStream inner, Stream<NDList> request) implements TextStream.Source {

        @Override
        public String nextPiece() {
            return inner.hasNext() ? inner.next() : null;
        }

        @Override
        public GenerationResult result() {
            return inner.result();
        }

        @Override
        public void close() {
            inner.close();
            request.close();
        }
    }
}
