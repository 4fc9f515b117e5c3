package ai.djl.xlstm.zoo;

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
import ai.djl.xlstm.model.XLstmLanguageModel;

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
 * <p>{@code batchPredict} decodes its prompts together through the {@link Generator}'s batched
 * path ({@link PromptBatches}), which gives each prompt the tokens it gets alone (greedy; sampling
 * with the seed its result reports). Generation runs on the recurrent state inside the request's
 * {@link TranslatorContext}: its manager holds the states and every step's scratch, and is freed
 * when the request ends (for a stream: when the stream ends or is closed). The block's own forward
 * pass sees an empty input, which is a no-op.
 *
 * <p>Thread-safe: the translator holds only immutable settings and the tokenizer; each request
 * gets its own generator and sessions.
 */
final class TextGenerationTranslator<I, O> implements Translator<I, O>, StreamingTranslator<I, O> {

    private static final String STREAM = "xlstm.stream";
    private static final String RESULTS = "xlstm.results";

    private final XLstmLanguageModel model;
    private final HuggingFaceTextCodec codec;
    private final GenerationArguments settings;
    private final Function<TextStream, O> output;

    private TextGenerationTranslator(XLstmLanguageModel model, HuggingFaceTextCodec codec,
            GenerationArguments settings, Function<TextStream, O> output) {
        this.model = model;
        this.codec = codec;
        this.settings = settings;
        this.output = output;
    }

    /**
     * The translator from {@code input} ({@code String} or {@link GenerationRequest}) to {@code
     * output} ({@code String}: the completion's text; {@code GenerationResult}: the whole result;
     * {@code TextStream}: the text as it is generated).
     */
    @SuppressWarnings("unchecked")
    static <I, O> TextGenerationTranslator<I, O> of(Class<I> input, Class<O> output, XLstmLanguageModel m,
            HuggingFaceTextCodec c, GenerationArguments g) {
        if (input != String.class && input != GenerationRequest.class) {
            throw new IllegalArgumentException("a prompt is a String or a GenerationRequest, not " + input.getName());
        }
        Function<TextStream, ?> out;
        if (output == String.class) {
            out = s -> s.result().text();
        } else if (output == GenerationResult.class) {
            out = TextStream::result;
        } else if (output == TextStream.class) {
            out = s -> s;
        } else {
            throw new IllegalArgumentException("a completion is a String, a GenerationResult or a TextStream, not "
                    + output.getName());
        }
        return new TextGenerationTranslator<>(m, c, g, (Function<TextStream, O>) out);
    }

    /** The prompt and the parameters of a request. */
    private PromptBatches.Job job(I input) {
        Objects.requireNonNull(input, "prompt");
        if (input instanceof GenerationRequest r) {
            return PromptBatches.job(codec, settings, r.prompt(), r.parameters());
        }
        return PromptBatches.job(codec, settings, (String) input, Map.of());
    }

    /**
     * Not null, so that DJL's {@code batchPredict} hands the whole batch to {@link
     * #batchProcessInput}; nothing is stacked (the inputs are empty lists).
     */
    @Override
    public Batchifier getBatchifier() {
        return Batchifier.STACK;
    }

    /** Generates every prompt of the batch, prompts with equal settings as one decoding batch. */
    @Override
    public NDList batchProcessInput(TranslatorContext ctx, List<I> inputs) {
        List<PromptBatches.Job> jobs = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            try {
                jobs.add(job(inputs.get(i)));
            } catch (IllegalArgumentException e) {
                throw inputs.size() == 1 ? e : new IllegalArgumentException("prompt " + i + " of the batch: "
                        + e.getMessage(), e);
            }
        }
        PromptBatches.Outcomes outcomes = PromptBatches.collectAll(new Generator(model, ctx.getNDManager(), codec), jobs);
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

    @Override
    public List<O> batchProcessOutput(TranslatorContext ctx, NDList list) {
        List<O> out = new ArrayList<>();
        for (GenerationResult r : (GenerationResult[]) ctx.getAttachment(RESULTS)) {
            out.add(output.apply(new TextStream(new Finished(r))));
        }
        return out;
    }

    /** One prompt, generated as its text is read (the path of {@code streamingPredict}). */
    @Override
    public NDList processInput(TranslatorContext ctx, I input) {
        PromptBatches.Job job = job(input);
        GenerationConfig config = PromptBatches.withSeed(job, 1);
        Generator generator = new Generator(model, ctx.getNDManager(), codec);
        ctx.setAttachment(STREAM, new TextStream(config.numBeams() > 1
                ? new Finished(generator.generate(job.prompt(), config))
                : new Streamed(generator, job.prompt(), config)));
        return new NDList(); // the block's forward pass on an empty list is a no-op
    }

    /** Not streaming: the whole generation runs before the request ends. */
    @Override
    public O processOutput(TranslatorContext ctx, NDList list) {
        TextStream stream = (TextStream) ctx.getAttachment(STREAM);
        stream.result();
        return output.apply(stream);
    }

    /** Streaming: the request (its memory) lives until the stream ends or is closed. */
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
