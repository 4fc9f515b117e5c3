package ai.djl.xlstm.zoo;

import ai.djl.Model;
import ai.djl.inference.streaming.ChunkedBytesSupplier;
import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.translate.Batchifier;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import ai.djl.xlstm.generate.FinishReason;
import ai.djl.xlstm.generate.GeneratedToken;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.model.XLstmLanguageModel;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code Input -> Output}: text generation in the request format of DJL Serving's LLM handlers
 * (LMI, Hugging Face TGI), so a model folder of ours can be served by DJL Serving.
 *
 * <p>{@link XLstmTranslatorFactory} makes one for {@code Criteria} with these types (and for DJL
 * Serving); build one yourself ({@code TextServingTranslator.builder(tokenizer).optArgument(...)
 * .build()}) to give it your own tokenizer or default settings, which are resolved as those of a
 * {@link TextGenerationTranslator}.
 *
 * <p>A request is a JSON object {@code {"inputs": "prompt", "parameters": {...}, "stream": false}}
 * (or the prompt as plain text, with the model's settings). {@code inputs} may be a list of prompts
 * (a batch; the answer is then a list). {@code parameters} are the generation arguments by their
 * Hugging Face names ({@link XLstmTranslatorFactory}: {@code max_new_tokens}, {@code do_sample},
 * {@code temperature}, {@code seed}, {@code stop}, ...), overriding the model's settings for this
 * request, plus {@code details} (also list each generated token) and {@code return_full_text}
 * (prefix the prompt). The answer is {@code {"generated_text": "...", "details": {"finish_reason":
 * "length", "generated_tokens": 20, "prompt_tokens": 7, "seed": 1234}}} ({@code seed}: the seed a
 * sampled text came from; give it as a parameter to get the same text again).
 *
 * <p>With {@code "stream": true} the answer's data is a {@link ChunkedBytesSupplier} of JSON lines
 * ({@code application/jsonlines}), one per generated token, {@code {"token": {"id": 42, "text": "
 * the", "log_prob": -1.2}}}, the last one also with {@code generated_text} and {@code details}.
 * Generation then goes on in a thread of its own after {@code predict} returns (in the model's
 * memory, freed when the generation ends), as DJL Serving reads the chunks while they are written.
 *
 * <p>A bad request (unknown or bad parameter, no {@code inputs}, not JSON, a prompt longer than
 * {@code max_length}) gets code 400 and {@code {"error": "...", "code": 400}} naming the problem;
 * the other requests of the batch are served. {@code batchPredict} decodes the prompts of all its
 * requests with equal settings as one batch of the {@link Generator}.
 *
 * <p>Thread-safe, as {@link TextGenerationTranslator}; it does not own the tokenizer either.
 */
public final class TextServingTranslator implements Translator<Input, Output> {

    private static final Logger logger = LoggerFactory.getLogger(TextServingTranslator.class);
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();
    private static final String OUTPUTS = "xlstm.outputs";

    /** The fields of a JSON request. */
    private static final List<String> FIELDS = List.of("inputs", "parameters", "stream");
    /** The parameters that shape the answer rather than the generation. */
    private static final List<String> ANSWER = List.of("details", "return_full_text");

    private final TranslatorArguments arguments;
    private final HuggingFaceTextCodec codec;

    private TextServingTranslator(TranslatorArguments arguments) {
        this.arguments = arguments;
        this.codec = arguments.codec();
    }

    /**
     * A builder of a translator that serves generation with {@code tokenizer}.
     *
     * @param tokenizer the model's tokenizer; the translator does not close it
     * @return a builder without arguments (the model folder's settings)
     */
    public static Builder builder(HuggingFaceTextCodec tokenizer) {
        return new Builder(tokenizer);
    }

    /**
     * A builder of a translator that serves generation with {@code tokenizer}, configured with the
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

    /** Builds a {@link TextServingTranslator}; each setter checks its value. */
    public static final class Builder extends TranslatorBuilder<Builder> {

        private Builder(HuggingFaceTextCodec tokenizer) {
            super(tokenizer);
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * Builds the translator.
         *
         * @return an {@code Input -> Output} translator
         * @throws IllegalArgumentException naming the arguments that contradict each other
         */
        public TextServingTranslator build() {
            return new TextServingTranslator(arguments.build());
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

    /** One request, parsed. */
    private record Request(List<String> prompts, boolean list, Map<String, Object> parameters, boolean stream,
            boolean details, boolean fullText) {}

    /** One prompt of a request: where its answer goes. */
    private record Slot(int request, int prompt) {}

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
     * Answers one request (see {@link #batchProcessInput}).
     *
     * @param ctx the request's context
     * @param input the request
     * @return an empty list (the answer waits in the context for {@link #processOutput})
     * @throws IOException if the model folder's {@code generation_config.json} cannot be read
     */
    @Override
    public NDList processInput(TranslatorContext ctx, Input input) throws IOException {
        return batchProcessInput(ctx, List.of(input));
    }

    /**
     * The answer to the request.
     *
     * @param ctx the request's context
     * @param list the block's (empty) output
     * @return the answer: JSON, or JSON lines as they are generated for a streamed request
     */
    @Override
    public Output processOutput(TranslatorContext ctx, NDList list) {
        return batchProcessOutput(ctx, list).get(0);
    }

    /**
     * The answers to the requests, in their order.
     *
     * @param ctx the requests' context
     * @param list the block's (empty) output
     * @return one answer per request
     */
    @Override
    public List<Output> batchProcessOutput(TranslatorContext ctx, NDList list) {
        return List.of((Output[]) ctx.getAttachment(OUTPUTS));
    }

    /**
     * Answers every request: bad ones at once, the others by decoding their prompts in batches.
     *
     * @param ctx the requests' context
     * @param inputs the requests
     * @return an empty list (the answers wait in the context for {@link #batchProcessOutput})
     * @throws IOException if the model folder's {@code generation_config.json} cannot be read
     */
    @Override
    public NDList batchProcessInput(TranslatorContext ctx, List<Input> inputs) throws IOException {
        TranslatorArguments.Bound bound = arguments.bind(ctx.getModel());
        GenerationArguments settings = bound.settings();
        Output[] outputs = new Output[inputs.size()];
        Request[] requests = new Request[inputs.size()];
        List<PromptBatches.Job> jobs = new ArrayList<>();
        List<Slot> slots = new ArrayList<>();
        List<PromptBatches.Job> streamJobs = new ArrayList<>();
        List<Slot> streamSlots = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            try {
                Request r = parse(inputs.get(i));
                List<PromptBatches.Job> own = new ArrayList<>();
                for (int k = 0; k < r.prompts().size(); k++) {
                    try {
                        own.add(PromptBatches.job(codec, settings, r.prompts().get(k), r.parameters()));
                    } catch (IllegalArgumentException e) {
                        throw r.list() ? new IllegalArgumentException("inputs[" + k + "]: " + e.getMessage(), e) : e;
                    }
                }
                requests[i] = r;
                for (int k = 0; k < own.size(); k++) {
                    (r.stream() ? streamJobs : jobs).add(own.get(k));
                    (r.stream() ? streamSlots : slots).add(new Slot(i, k));
                }
            } catch (IllegalArgumentException e) {
                outputs[i] = error(400, e.getMessage());
            }
        }
        if (!jobs.isEmpty()) {
            answer(new Generator(bound.languageModel(), ctx.getNDManager(), codec), jobs, slots, requests, outputs);
        }
        if (!streamJobs.isEmpty()) {
            stream(bound, streamJobs, streamSlots, requests, outputs);
        }
        ctx.setAttachment(OUTPUTS, outputs);
        return new NDList(); // the block's forward pass on an empty list is a no-op
    }

    /** Generates the prompts of the requests that do not stream, and writes their answers. */
    private void answer(Generator generator, List<PromptBatches.Job> jobs, List<Slot> slots, Request[] requests,
            Output[] outputs) {
        PromptBatches.Outcomes outcomes = PromptBatches.collectAll(generator, jobs);
        GenerationResult[] results = outcomes.results();
        RuntimeException[] errors = outcomes.errors();
        Map<Integer, JsonArray> answers = new LinkedHashMap<>();
        for (int j = 0; j < jobs.size(); j++) {
            Slot slot = slots.get(j);
            if (outputs[slot.request()] != null) {
                continue; // an earlier prompt of this request failed
            }
            if (errors[j] != null) {
                String where = requests[slot.request()].list() ? "inputs[" + slot.prompt() + "]: " : "";
                outputs[slot.request()] = errors[j] instanceof IllegalArgumentException
                        ? error(400, where + errors[j].getMessage())
                        : error(500, where + "generation failed: " + errors[j]);
                logger.debug("request {} failed", slot.request(), errors[j]);
                continue;
            }
            Request r = requests[slot.request()];
            answers.computeIfAbsent(slot.request(), k -> new JsonArray())
                    .add(answer(r, r.prompts().get(slot.prompt()), results[j]));
        }
        for (Map.Entry<Integer, JsonArray> e : answers.entrySet()) {
            if (outputs[e.getKey()] == null) {
                JsonArray all = e.getValue();
                outputs[e.getKey()] = json(200, requests[e.getKey()].list() ? all : all.get(0));
            }
        }
    }

    /**
     * Starts the streamed requests: each gets an output whose chunks are written by a thread that
     * generates its group of prompts (requests with equal settings decode as one batch).
     */
    private void stream(TranslatorArguments.Bound bound, List<PromptBatches.Job> jobs, List<Slot> slots,
            Request[] requests, Output[] outputs) {
        XLstmLanguageModel model = bound.languageModel();
        NDManager modelManager = bound.model().getNDManager();
        ChunkedBytesSupplier[] suppliers = new ChunkedBytesSupplier[jobs.size()];
        for (int j = 0; j < jobs.size(); j++) {
            Output out = new Output();
            out.addProperty("Content-Type", "application/jsonlines");
            suppliers[j] = new ChunkedBytesSupplier();
            out.add(suppliers[j]);
            outputs[slots.get(j).request()] = out;
        }
        for (List<Integer> group : PromptBatches.groups(jobs)) {
            Thread thread = new Thread(() -> {
                Lines lines = new Lines(jobs, slots, requests, outputs, suppliers);
                try (NDManager manager = modelManager.newSubManager()) {
                    PromptBatches.run(new Generator(model, manager, codec), jobs, group, lines);
                } catch (RuntimeException | Error e) {
                    // every stream of the group ends, so that no reader waits for a chunk that never comes
                    RuntimeException error = e instanceof RuntimeException r ? r : new IllegalStateException(e.toString(), e);
                    for (int j : group) {
                        lines.onError(j, error); // a no-op for a stream that has ended
                    }
                    if (e instanceof Error fatal) {
                        throw fatal;
                    }
                }
            }, "xlstm-stream");
            thread.setDaemon(true);
            thread.start();
        }
    }

    /** Writes streamed requests' JSON lines as their tokens come. */
    private final class Lines implements PromptBatches.Sink {
        private final List<PromptBatches.Job> jobs;
        private final List<Slot> slots;
        private final Request[] requests;
        private final Output[] outputs;
        private final ChunkedBytesSupplier[] suppliers;
        /** Each stream's last token, held back to carry the final text and details. */
        private final GeneratedToken[] pending;
        private final boolean[] ended;

        Lines(List<PromptBatches.Job> jobs, List<Slot> slots, Request[] requests, Output[] outputs,
                ChunkedBytesSupplier[] suppliers) {
            this.jobs = jobs;
            this.slots = slots;
            this.requests = requests;
            this.outputs = outputs;
            this.suppliers = suppliers;
            pending = new GeneratedToken[jobs.size()];
            ended = new boolean[jobs.size()];
        }

        @Override
        public boolean streaming() {
            return true;
        }

        @Override
        public void onToken(int job, GeneratedToken token) {
            if (pending[job] != null) {
                write(job, tokenLine(job, pending[job]), false);
            }
            pending[job] = token;
        }

        @Override
        public void onResult(int job, GenerationResult result) {
            Request r = requests[slots.get(job).request()];
            JsonObject last = pending[job] == null ? new JsonObject() : tokenLine(job, pending[job]);
            JsonObject answer = answer(r, r.prompts().get(0), result);
            answer.entrySet().forEach(e -> last.add(e.getKey(), e.getValue()));
            write(job, last, true);
        }

        @Override
        public void onError(int job, RuntimeException error) {
            if (ended[job]) {
                return;
            }
            if (pending[job] != null) {
                write(job, tokenLine(job, pending[job]), false);
            }
            logger.debug("streamed request {} failed", slots.get(job).request(), error);
            int code = error instanceof IllegalArgumentException ? 400 : 500;
            outputs[slots.get(job).request()].setCode(code); // seen only before the first chunk is sent
            JsonObject line = new JsonObject();
            line.addProperty("error", "generation failed: " + error.getMessage());
            line.addProperty("code", code);
            write(job, line, true);
        }

        private JsonObject tokenLine(int job, GeneratedToken t) {
            JsonObject line = new JsonObject();
            line.add("token", token(t.id(), t.text(), t.logProb(), jobs.get(job)));
            pending[job] = null;
            return line;
        }

        private void write(int job, JsonObject line, boolean last) {
            suppliers[job].appendContent((GSON.toJson(line) + "\n").getBytes(StandardCharsets.UTF_8), false);
            if (last) {
                ended[job] = true;
                // the end comes as an empty chunk of its own: ChunkedBytesSupplier marks itself
                // complete before it queues the last chunk, so a reader in between would miss it
                suppliers[job].appendContent(new byte[0], true);
            }
        }
    }

    /** The JSON answer for one prompt: its text and details. */
    private JsonObject answer(Request r, String prompt, GenerationResult result) {
        JsonObject o = new JsonObject();
        o.addProperty("generated_text", r.fullText() ? prompt + result.text() : result.text());
        JsonObject details = new JsonObject();
        details.addProperty("finish_reason", finishReason(result.finishReason()));
        details.addProperty("generated_tokens", result.tokens().length);
        details.addProperty("prompt_tokens", result.promptTokens());
        if (result.seed() != null) {
            details.addProperty("seed", result.seed());
        }
        if (r.details()) {
            details.addProperty("inputs", prompt);
            if (!r.stream()) {
                JsonArray tokens = new JsonArray();
                for (int i = 0; i < result.tokens().length; i++) {
                    long id = result.tokens()[i];
                    tokens.add(token(id, codec.decode(new long[] {id}), result.logProbs()[i], null));
                }
                details.add("tokens", tokens);
            }
        }
        o.add("details", details);
        return o;
    }

    /** A token as DJL Serving's LLM handlers write it. */
    private static JsonObject token(long id, String text, double logProb, PromptBatches.Job job) {
        JsonObject t = new JsonObject();
        t.addProperty("id", id);
        t.addProperty("text", text);
        t.addProperty("log_prob", logProb);
        if (job != null && job.config().eosTokenIds().contains(id)) {
            t.addProperty("special_token", true);
        }
        return t;
    }

    /** The finish reasons of Hugging Face TGI, which DJL Serving's LLM handlers use. */
    private static String finishReason(FinishReason reason) {
        return switch (reason) {
            case EOS -> "eos_token";
            case STOP -> "stop_sequence";
            case LENGTH -> "length";
            default -> reason.name().toLowerCase(Locale.ROOT);
        };
    }

    /** Reads a request: JSON {@code {"inputs": ..., "parameters": {...}, "stream": ...}} or plain text. */
    private static Request parse(Input input) {
        if (input.getData() == null) {
            throw new IllegalArgumentException("the request has no body: send {\"inputs\": \"prompt\", \"parameters\":"
                    + " {...}} as JSON, or the prompt as text");
        }
        String body = input.getData().getAsString();
        if (!contentType(input).contains("json") && !body.stripLeading().startsWith("{")) {
            return new Request(List.of(body), false, Map.of(), false, false, false);
        }
        JsonElement root;
        try {
            root = JsonParser.parseString(body);
        } catch (JsonParseException e) {
            throw new IllegalArgumentException("the request is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isJsonObject()) {
            throw new IllegalArgumentException("the request must be a JSON object {\"inputs\": ..., \"parameters\":"
                    + " {...}}, got " + shorten(body));
        }
        JsonObject o = root.getAsJsonObject();
        for (String field : o.keySet()) {
            if (!FIELDS.contains(field)) {
                throw new IllegalArgumentException("unknown request field '" + field + "': a request has " + FIELDS
                        + " (generation settings go in 'parameters')");
            }
        }
        List<String> prompts = new ArrayList<>();
        JsonElement in = o.get("inputs");
        boolean list = in != null && in.isJsonArray();
        if (in != null && in.isJsonPrimitive() && in.getAsJsonPrimitive().isString()) {
            prompts.add(in.getAsString());
        } else if (list) {
            for (JsonElement e : in.getAsJsonArray()) {
                if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
                    throw new IllegalArgumentException("'inputs' must be a string or a list of strings, got an element "
                            + shorten(e.toString()));
                }
                prompts.add(e.getAsString());
            }
        }
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("'inputs' must be a string or a non-empty list of strings, got "
                    + (in == null ? "none" : shorten(in.toString())));
        }
        Map<String, Object> parameters = new LinkedHashMap<>();
        JsonElement p = o.get("parameters");
        if (p != null && !p.isJsonNull()) {
            if (!p.isJsonObject()) {
                throw new IllegalArgumentException("'parameters' must be a JSON object, got " + shorten(p.toString()));
            }
            for (Map.Entry<String, JsonElement> e : p.getAsJsonObject().entrySet()) {
                Object value = value(e.getValue(), e.getKey());
                if (value != null) {
                    parameters.put(e.getKey(), value);
                }
            }
        }
        GenerationArguments.checkRequest(parameters, ANSWER);
        boolean details = flag(parameters.remove("details"), "request parameter 'details'");
        boolean fullText = flag(parameters.remove("return_full_text"), "request parameter 'return_full_text'");
        boolean stream = flag(o.has("stream") && !o.get("stream").isJsonNull() ? value(o.get("stream"), "stream")
                : null, "request field 'stream'");
        if (stream && list) {
            throw new IllegalArgumentException("\"stream\": true takes one prompt, but 'inputs' is a list of "
                    + prompts.size() + ": send one request per prompt");
        }
        return new Request(prompts, list, parameters, stream, details, fullText);
    }

    /** A JSON value as the generation arguments take it (numbers exact, as their decimal text). */
    private static Object value(JsonElement e, String name) {
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (e.isJsonArray()) {
            List<Object> list = new ArrayList<>();
            for (JsonElement item : e.getAsJsonArray()) {
                list.add(value(item, name));
            }
            return list;
        }
        if (e.isJsonObject()) {
            throw new IllegalArgumentException("request parameter '" + name + "' must not be an object, got "
                    + shorten(e.toString()));
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        return p.isBoolean() ? (Object) p.getAsBoolean() : p.isNumber() ? new BigDecimal(p.getAsString()) : p.getAsString();
    }

    private static boolean flag(Object v, String what) {
        if (v == null) {
            return false;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        throw new IllegalArgumentException(what + " must be true or false, got " + v);
    }

    private static String contentType(Input input) {
        for (Map.Entry<String, String> e : input.getProperties().entrySet()) {
            if ("content-type".equalsIgnoreCase(e.getKey())) {
                return e.getValue().toLowerCase(Locale.ROOT);
            }
        }
        return "";
    }

    private static String shorten(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    private static Output json(int code, JsonElement body) {
        Output out = new Output(code, code == 200 ? "OK" : code == 400 ? "Bad Request" : "Internal Server Error");
        out.addProperty("Content-Type", "application/json");
        out.add(GSON.toJson(body));
        return out;
    }

    /** A JSON error answer: {@code {"error": message, "code": code}}. */
    private static Output error(int code, String message) {
        JsonObject o = new JsonObject();
        o.addProperty("error", message);
        o.addProperty("code", code);
        return json(code, o);
    }
}
