package ai.djl.xlstm.zoo;

import ai.djl.inference.streaming.StreamingTranslator;
import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import ai.djl.xlstm.generate.GeneratedToken;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.GenerationSession;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.util.Objects;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Text in, generated text out: {@code String -> String} (the completion), {@code String ->
 * GenerationResult} and {@code String -> TextStream} (streaming with {@code
 * predictor.streamingPredict}).
 *
 * <p>Generation runs on the recurrent state with {@link Generator}, inside the request's {@link
 * TranslatorContext}: its manager holds the state and every step's scratch, and is freed when the
 * request ends (for a stream: when the stream ends or is closed). The block's own forward pass sees
 * an empty input, which is a no-op.
 *
 * <p>Thread-safe: the translator holds only immutable settings and the tokenizer; each request
 * gets its own generator and session.
 */
final class TextGenerationTranslator<O> implements NoBatchifyTranslator<String, O>, StreamingTranslator<String, O> {

    private static final String STREAM = "xlstm.stream";

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

    /** The completion's text. */
    static TextGenerationTranslator<String> text(XLstmLanguageModel m, HuggingFaceTextCodec c, GenerationArguments g) {
        return new TextGenerationTranslator<>(m, c, g, s -> s.result().text());
    }

    /** The whole result. */
    static TextGenerationTranslator<GenerationResult> result(XLstmLanguageModel m, HuggingFaceTextCodec c,
            GenerationArguments g) {
        return new TextGenerationTranslator<>(m, c, g, TextStream::result);
    }

    /** The text as it is generated. */
    static TextGenerationTranslator<TextStream> stream(XLstmLanguageModel m, HuggingFaceTextCodec c,
            GenerationArguments g) {
        return new TextGenerationTranslator<>(m, c, g, s -> s);
    }

    @Override
    public NDList processInput(TranslatorContext ctx, String prompt) {
        Objects.requireNonNull(prompt, "prompt");
        // with max_length, the new tokens are what the prompt leaves (an empty prompt starts from BOS)
        GenerationConfig config = settings.maxLength().isEmpty() ? settings.config()
                : settings.forPrompt(prompt.isEmpty() ? 1 : codec.encode(prompt).length);
        Generator generator = new Generator(model, ctx.getNDManager(), codec);
        ctx.setAttachment(STREAM, new TextStream(config.numBeams() > 1
                ? new Finished(generator.generate(prompt, config))
                : new Streamed(generator, prompt, config)));
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

        Streamed(Generator generator, String prompt, GenerationConfig config) {
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
