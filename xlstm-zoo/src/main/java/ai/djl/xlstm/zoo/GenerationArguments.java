package ai.djl.xlstm.zoo;

import ai.djl.xlstm.generate.GenerationConfig;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import com.google.gson.reflect.TypeToken;

import java.io.IOException;
import java.io.Reader;
import java.math.BigDecimal;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

/**
 * The generation settings of a zoo model: the defaults of the model folder's {@code
 * generation_config.json} (Hugging Face format), overridden by Criteria arguments named as in
 * Hugging Face {@code generate}:
 *
 * <ul>
 *   <li>{@code max_new_tokens}, or {@code max_length}: the prompt's tokens plus the new ones (as in
 *       Hugging Face; each request then generates {@code max_length} minus its prompt's length, and
 *       a longer prompt is refused). Not both. In {@code generation_config.json}, {@code
 *       max_new_tokens} wins over {@code max_length} (Hugging Face's rule);
 *   <li>{@code do_sample}: {@code false} chooses greedily (temperature 0; top-k, top-p and min-p off,
 *       as they cannot change an argmax; given with it, they must be off: temperature 0, top-k 0,
 *       top-p 1, min-p 0), {@code true} samples at the given temperature, else the
 *       folder's, else 1 (Hugging Face's default). Without it the temperature decides (0 is greedy).
 *       The folder's {@code do_sample} applies unless the Criteria give {@code do_sample} or {@code
 *       temperature};
 *   <li>{@code temperature}, {@code top_k}, {@code top_p}, {@code min_p}, {@code
 *       repetition_penalty}, {@code num_beams}, {@code length_penalty}, {@code seed};
 *   <li>{@code eos_token_id} (an id or a list of ids; the tokens that end a sequence, replacing the
 *       folder's and the tokenizer's end-of-text token), {@code bos_token_id};
 *   <li>{@code stop} or its Hugging Face name {@code stop_strings} (a string, a list of strings, or
 *       a JSON array of strings), not both;
 *   <li>{@code pad_token_id}: checked and otherwise unused, as no path pads: {@code
 *       ai.djl.xlstm.generate.Generator}, which the text translators' {@code batchPredict} uses,
 *       batches prompts of different lengths without padding (a pad token would enter the
 *       recurrent state).
 * </ul>
 *
 * <p>A request can override these settings with its own parameters, by the same names and rules
 * (a {@link GenerationRequest}, or the {@code parameters} of a JSON request through {@code Input ->
 * Output}). An empty prompt starts from {@code bos_token_id}, else the tokenizer's end-of-text
 * token. Sampling without a {@code seed} draws a fresh one per request (reported in {@link
 * ai.djl.xlstm.generate.GenerationResult#seed()}).
 *
 * <p>Every value is checked on its own first (a bad one is named), then all are applied and the
 * whole is validated once, so the order of the arguments never matters. Any other Criteria argument
 * is refused with the list of these names, except the ones DJL and DJL Serving use themselves and
 * the keys of the model folder's {@code serving.properties}.
 */
final class GenerationArguments {

    /** The generation arguments, in alphabetical order. */
    static final List<String> NAMES = List.of("bos_token_id", "do_sample", "eos_token_id", "length_penalty",
            "max_length", "max_new_tokens", "min_p", "num_beams", "pad_token_id", "repetition_penalty", "seed",
            "stop", "stop_strings", "temperature", "top_k", "top_p");

    /**
     * The arguments DJL and DJL Serving put in a model's arguments themselves (BaseModelLoader,
     * the repositories' URL query keys, the model properties of DJL Serving's serving.properties).
     */
    static final Set<String> DJL_NAMES = Set.of("application", "engine", "blockFactory", "translatorFactory",
            "translator", "batchifier", "model_name", "artifact_id", "ignore_real_uri", "djl_rpc_uri", "load_on_devices",
            "job_queue_size", "batch_size", "max_batch_delay", "max_idle_time", "log_request_metric",
            "metrics_aggregation", "minWorkers", "maxWorkers", "gpu.minWorkers", "gpu.maxWorkers", "cpu.minWorkers",
            "cpu.maxWorkers", "required_memory_mb", "reserved_memory_mb");

    /** The arguments that only make sense when sampling. */
    private static final List<String> SAMPLING = List.of("temperature", "top_k", "top_p", "min_p");

    private static final String FILE = "generation_config.json";

    /** Where a layer of settings comes from, for messages: one value ("Criteria argument") and several. */
    record Layer(String one, String many) {}

    private static final Layer FILE_FIELDS = new Layer(FILE + " field", FILE + " fields");
    /** Arguments given through {@code Criteria} (the translator factory's). */
    static final Layer CRITERIA = new Layer("Criteria argument", "Criteria arguments");
    /** Arguments given to a translator's builder. */
    static final Layer TRANSLATOR = new Layer("translator argument", "translator arguments");
    private static final Layer MODEL = new Layer("the model's setting", "the model's settings");
    private static final Layer REQUEST = new Layer("request parameter", "request parameters");

    private final GenerationConfig config;
    private final Integer maxLength;
    private final Long padTokenId;
    /** The parsed values by Hugging Face name, all layers merged: what a request's parameters override. */
    private final Map<String, Object> values;
    private final Set<Long> defaultEos;
    private final Long defaultBos;
    private final String owner;

    private GenerationArguments(GenerationConfig config, Integer maxLength, Long padTokenId, Map<String, Object> values,
            Set<Long> defaultEos, Long defaultBos, String owner) {
        this.config = config;
        this.maxLength = maxLength;
        this.padTokenId = padTokenId;
        this.values = Collections.unmodifiableMap(values);
        this.defaultEos = defaultEos;
        this.defaultBos = defaultBos;
        this.owner = owner;
    }

    /** The settings (with {@code max_length}, {@link #forPrompt} gives each request's). */
    GenerationConfig config() {
        return config;
    }

    /** The Hugging Face {@code max_length} (prompt plus new tokens), if that bounds the length. */
    OptionalInt maxLength() {
        return maxLength == null ? OptionalInt.empty() : OptionalInt.of(maxLength);
    }

    /**
     * The settings for a prompt of {@code promptTokens} tokens: with {@code max_length}, {@code
     * max_length - promptTokens} new tokens.
     *
     * @throws IllegalArgumentException if the prompt is longer than {@code max_length}
     */
    GenerationConfig forPrompt(int promptTokens) {
        if (maxLength == null) {
            return config;
        }
        if (promptTokens > maxLength) {
            throw new IllegalArgumentException("the prompt is " + promptTokens + " tokens, more than max_length "
                    + maxLength + " (max_length counts the prompt and the new tokens, as in Hugging Face;"
                    + " max_new_tokens counts only the new ones)");
        }
        return config.toBuilder().maxNewTokens(maxLength - promptTokens).build();
    }

    /**
     * Refuses token ids (end, start, padding) outside a vocabulary of {@code vocab} tokens: they
     * could never be generated or fed.
     */
    void requireTokenIdsBelow(int vocab) {
        for (long id : config.eosTokenIds()) {
            requireBelow(id, "eos_token_id", vocab);
        }
        if (config.bosTokenId() != null) {
            requireBelow(config.bosTokenId(), "bos_token_id", vocab);
        }
        if (padTokenId != null) {
            requireBelow(padTokenId, "pad_token_id", vocab);
        }
    }

    private static void requireBelow(long id, String name, int vocab) {
        if (id >= vocab) {
            throw new IllegalArgumentException(name + " " + id + " is outside the model's vocabulary [0, " + vocab + ")");
        }
    }

    /**
     * Whether a seed is set (by the folder, a Criteria argument or a request parameter); without
     * one, sampling draws a fresh seed per request.
     */
    boolean seeded() {
        return values.containsKey("seed");
    }

    /**
     * These settings overridden by one request's {@code parameters} (Hugging Face names, the same
     * rules as Criteria arguments over {@code generation_config.json}).
     *
     * @throws IllegalArgumentException naming the parameter of a bad or unknown value, or the
     *     values that contradict each other
     */
    GenerationArguments withRequest(Map<String, ?> parameters) {
        if (parameters.isEmpty()) {
            return this;
        }
        requireKnown(parameters.keySet(), REQUEST.one(), List.of());
        return resolve(owner, values, MODEL, parameters, REQUEST, defaultEos, defaultBos);
    }

    /**
     * Checks each value of {@code parameters} on its own (names and bounds), as a request's.
     *
     * @param extra names accepted besides the generation arguments
     * @throws IllegalArgumentException naming the parameter
     */
    static void checkRequest(Map<String, ?> parameters, List<String> extra) {
        requireKnown(parameters.keySet(), REQUEST.one(), extra);
        Map<String, Object> parsed = parse(parameters, REQUEST.one() + " '");
        requireConsistent(parsed, REQUEST);
    }

    /**
     * Checks generation arguments on their own, as {@code layer}'s: each name is known, each value
     * within its bounds, and the values agree with each other ({@code stop} and {@code
     * stop_strings} not both, ...). How they combine with a model folder's settings is checked when
     * they are resolved ({@link #read}).
     *
     * @throws IllegalArgumentException naming the argument of an unknown name or a bad value, or the
     *     arguments that contradict each other
     */
    static void checkArguments(Map<String, ?> arguments, Layer layer) {
        requireKnown(arguments.keySet(), layer.one(), List.of());
        requireConsistent(parse(arguments, layer.one() + " '"), layer);
    }

    /**
     * Refuses a name that is neither a generation argument nor one of {@code extra}, naming it, a
     * close known name and the known names.
     */
    static void requireKnown(Set<String> names, String what, List<String> extra) {
        for (String key : new TreeSet<>(names)) {
            if (NAMES.contains(key) || extra.contains(key)) {
                continue;
            }
            String close = closest(key);
            throw new IllegalArgumentException("unknown " + what + " '" + key + "'"
                    + (close == null ? "" : " (did you mean '" + close + "'?)")
                    + ": the generation arguments of xLSTM models are " + NAMES
                    + (extra.isEmpty() ? "" : "; also " + extra));
        }
    }

    /**
     * Refuses a Criteria argument that is neither a generation argument ({@link #NAMES}), nor one of
     * DJL's ({@link #DJL_NAMES}), nor {@link XLstmBlockFactory#WEIGHTS_ARGUMENT}, nor a key of {@code modelDir}'s {@code serving.properties} (DJL
     * copies those into the arguments); for the token-id translators ({@code text} false), also a
     * generation argument from the Criteria, which they could not use.
     *
     * @throws IllegalArgumentException naming the argument, a close known name, and the known names
     */
    static void checkNames(Path modelDir, Map<String, ?> arguments, boolean text) throws IOException {
        Set<String> folder = servingPropertiesKeys(modelDir);
        Set<String> unused = new TreeSet<>();
        for (String key : new TreeSet<>(arguments.keySet())) {
            if (folder.contains(key) || DJL_NAMES.contains(key) || XLstmBlockFactory.WEIGHTS_ARGUMENT.equals(key)) {
                continue;
            }
            if (NAMES.contains(key)) {
                if (!text) {
                    unused.add(key);
                }
                continue;
            }
            String close = closest(key);
            throw new IllegalArgumentException("unknown Criteria argument '" + key + "'"
                    + (close == null ? "" : " (did you mean '" + close + "'?)")
                    + ": the generation arguments of xLSTM models are " + NAMES
                    + "; the block factory's '" + XLstmBlockFactory.WEIGHTS_ARGUMENT + "', DJL's own (engine,"
                    + " blockFactory, translatorFactory, ...) and the keys of the model"
                    + " folder's serving.properties are accepted too");
        }
        if (!unused.isEmpty()) {
            throw new IllegalArgumentException("the generation arguments " + unused + " apply to the text"
                    + " translators (String input); token ids in, logits out (NDList input) generates nothing");
        }
    }

    /**
     * The settings for a model in {@code modelDir} with the tokenizer's end-of-text token, which
     * ends a sequence unless {@code eos_token_id} says otherwise, and starts an empty prompt unless
     * {@code bos_token_id} does (as the command line does).
     *
     * @throws IllegalArgumentException naming the argument or field of a bad value, or the
     *     arguments and fields whose values contradict each other
     */
    static GenerationArguments read(Path modelDir, Map<String, ?> arguments, OptionalLong endOfText)
            throws IOException {
        return read(modelDir, Map.of(), arguments, CRITERIA, endOfText);
    }

    /**
     * As {@link #read(Path, Map, OptionalLong)}, with {@code fallback} (Hugging Face names, the same
     * rules) standing in for the folder's {@code generation_config.json} when it has none: the
     * command line samples by default where the Criteria choose greedily. Anything not given falls
     * back to {@link GenerationConfig#builder()}'s defaults.
     *
     * @throws IllegalArgumentException naming the argument or field of a bad value, or the
     *     arguments and fields whose values contradict each other
     */
    static GenerationArguments read(Path modelDir, Map<String, ?> fallback, Map<String, ?> arguments,
            OptionalLong endOfText) throws IOException {
        return read(modelDir, fallback, arguments, CRITERIA, endOfText);
    }

    /**
     * As {@link #read(Path, Map, Map, OptionalLong)}, naming the arguments as {@code layer} in
     * messages ({@link #CRITERIA} or {@link #TRANSLATOR}).
     */
    static GenerationArguments read(Path modelDir, Map<String, ?> fallback, Map<String, ?> arguments, Layer layer,
            OptionalLong endOfText) throws IOException {
        Map<String, Object> file = new LinkedHashMap<>();
        Path path = modelDir == null ? null : modelDir.resolve(FILE);
        if (path == null || !Files.isRegularFile(path)) {
            requireKnown(fallback.keySet(), "default", List.of());
            file.putAll(parse(fallback, "default '"));
        } else {
            Map<String, Object> defaults;
            try {
                defaults = new Gson().fromJson(Files.readString(path, StandardCharsets.UTF_8),
                        new TypeToken<Map<String, Object>>() {}.getType());
            } catch (JsonParseException e) {
                throw new IllegalArgumentException(path + " is not valid JSON: " + e.getMessage(), e);
            } catch (CharacterCodingException e) {
                throw new IllegalArgumentException(path + " is not UTF-8 text", e);
            }
            if (defaults != null) {
                file.putAll(parse(defaults, FILE_FIELDS.one() + " '"));
            }
        }
        requireOneOf(file, "stop", "stop_strings", FILE_FIELDS.many());
        if (file.containsKey("max_new_tokens")) {
            file.remove("max_length"); // Hugging Face: max_new_tokens wins
        }
        Set<Long> eos = endOfText.isPresent() ? Set.of(endOfText.getAsLong()) : Set.of();
        Long bos = endOfText.isPresent() ? endOfText.getAsLong() : null;
        return resolve(String.valueOf(modelDir), file, FILE_FIELDS, arguments, layer, eos, bos);
    }

    /**
     * The settings of {@code upper} (raw values) over {@code lower} (parsed values): every value is
     * checked alone, then the layers merge and the whole is validated once.
     */
    private static GenerationArguments resolve(String owner, Map<String, Object> lower, Layer lowerLayer,
            Map<String, ?> upper, Layer upperLayer, Set<Long> defaultEos, Long defaultBos) {
        Map<String, Object> given = parse(upper, upperLayer.one() + " '");
        requireConsistent(given, upperLayer);

        Map<String, Object> merged = new LinkedHashMap<>(lower);
        if (given.containsKey("max_new_tokens") || given.containsKey("max_length")) {
            merged.remove("max_new_tokens");
            merged.remove("max_length");
        }
        if (given.containsKey("stop") || given.containsKey("stop_strings")) {
            merged.remove("stop");
            merged.remove("stop_strings");
        }
        if (given.containsKey("do_sample") || given.containsKey("temperature")) {
            merged.remove("do_sample"); // the upper layer decides between greedy and sampling
        }
        merged.putAll(given);

        GenerationConfig.Builder b = GenerationConfig.builder();
        b.eosTokenIds(defaultEos);
        b.bosTokenId(defaultBos);
        for (Map.Entry<String, Object> e : merged.entrySet()) {
            set(b, e.getKey(), e.getValue());
        }
        Object doSample = merged.get("do_sample");
        if (Boolean.FALSE.equals(doSample)) {
            b.temperature(0f).topK(0).topP(1f).minP(0f);
        } else if (Boolean.TRUE.equals(doSample) && !merged.containsKey("temperature")) {
            b.temperature(1f); // Hugging Face's default
        } else if (Boolean.TRUE.equals(doSample) && ((Float) merged.get("temperature")) == 0) {
            throw new IllegalArgumentException((given.containsKey("temperature") ? upperLayer : lowerLayer).one()
                    + " 'temperature' is 0 (greedy) but do_sample is true: give a temperature > 0");
        }
        try {
            return new GenerationArguments(b.build(), (Integer) merged.get("max_length"),
                    (Long) merged.get("pad_token_id"), merged, defaultEos, defaultBos, owner);
        } catch (IllegalArgumentException e) {
            boolean beams = merged.get("num_beams") instanceof Integer n && n > 1;
            throw new IllegalArgumentException("generation settings of " + owner + ": " + e.getMessage()
                    + " (" + lowerLayer.many() + ": " + values(lower) + "; " + upperLayer.many() + ": "
                    + values(given) + ")"
                    + (beams ? "; for beam search over a folder that samples, pass do_sample=false" : ""), e);
        }
    }

    /** Refuses values of one layer that contradict each other. */
    private static void requireConsistent(Map<String, Object> given, Layer layer) {
        requireOneOf(given, "stop", "stop_strings", layer.many());
        requireOneOf(given, "max_new_tokens", "max_length", layer.many());
        if (Boolean.FALSE.equals(given.get("do_sample"))) {
            // a value that leaves the argmax alone (temperature 0, the filters off) agrees with greedy
            List<String> sampling = SAMPLING.stream().filter(n -> given.containsKey(n) && !isOff(n, given.get(n)))
                    .toList();
            if (!sampling.isEmpty()) {
                throw new IllegalArgumentException(layer.one() + " 'do_sample' = false chooses greedily, but the"
                        + " sampling arguments " + sampling + " are given too: drop them or do_sample");
            }
        }
    }

    /** Whether a sampling value is the one that turns it off (greedy choice is unchanged by it). */
    private static boolean isOff(String name, Object value) {
        GenerationConfig off = GenerationConfig.builder().temperature(0f).build();
        return switch (name) {
            case "temperature" -> ((Float) value) == 0f;
            case "top_k" -> ((Integer) value) == off.topK();
            case "top_p" -> ((Float) value) == off.topP();
            case "min_p" -> ((Float) value) == off.minP();
            default -> false;
        };
    }

    private static void requireOneOf(Map<String, Object> m, String a, String b, String what) {
        if (m.containsKey(a) && m.containsKey(b)) {
            throw new IllegalArgumentException(what + " '" + a + "' and '" + b + "' both given: give one");
        }
    }

    /** Parses and checks each generation value of {@code m} on its own (order does not matter). */
    private static Map<String, Object> parse(Map<String, ?> m, String where) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (String name : NAMES) {
            Object v = m.get(name);
            if (v == null) {
                continue;
            }
            String what = where + name + "'";
            Object value = switch (name) {
                case "max_new_tokens", "top_k" -> (int) integer(v, what, 0, Integer.MAX_VALUE);
                case "max_length" -> (int) integer(v, what, 1, Integer.MAX_VALUE);
                case "num_beams" -> (int) integer(v, what, 1, GenerationConfig.MAX_BEAMS);
                case "temperature", "top_p", "min_p", "repetition_penalty", "length_penalty" -> decimal(v, what);
                case "seed" -> integer(v, what, Long.MIN_VALUE, Long.MAX_VALUE);
                case "bos_token_id", "pad_token_id" -> integer(v, what, 0, Long.MAX_VALUE);
                case "eos_token_id" -> ids(v, what);
                case "do_sample" -> bool(v, what);
                case "stop", "stop_strings" -> strings(v, what);
                default -> throw new AssertionError(name);
            };
            try {
                // alone on the defaults, a value meets only its own bounds
                set(GenerationConfig.builder(), name, value).build();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(what + " = " + v + ": " + e.getMessage(), e);
            }
            out.put(name, value);
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static GenerationConfig.Builder set(GenerationConfig.Builder b, String name, Object v) {
        return switch (name) {
            case "max_new_tokens" -> b.maxNewTokens((Integer) v);
            case "temperature" -> b.temperature((Float) v);
            case "top_k" -> b.topK((Integer) v);
            case "top_p" -> b.topP((Float) v);
            case "min_p" -> b.minP((Float) v);
            case "repetition_penalty" -> b.repetitionPenalty((Float) v);
            case "num_beams" -> b.numBeams((Integer) v);
            case "length_penalty" -> b.lengthPenalty((Float) v);
            case "seed" -> b.seed((Long) v);
            case "eos_token_id" -> b.eosTokenIds((Set<Long>) v);
            case "bos_token_id" -> b.bosTokenId((Long) v);
            case "stop", "stop_strings" -> b.stopStrings((List<String>) v);
            case "max_length", "do_sample", "pad_token_id" -> b; // applied by read
            default -> throw new AssertionError(name);
        };
    }

    private static String values(Map<String, Object> m) {
        return m.isEmpty() ? "none" : m.toString();
    }

    private static long integer(Object v, String what, long min, long max) {
        if (v == null) { // a null in a list: [1, null], or [1, ] read leniently
            throw new IllegalArgumentException(what + " must be an integer, got null");
        }
        BigDecimal d;
        try {
            d = new BigDecimal(v.toString().trim());
        } catch (NumberFormatException e) {
            d = null;
        }
        if (d == null || d.stripTrailingZeros().scale() > 0 || d.compareTo(BigDecimal.valueOf(min)) < 0
                || d.compareTo(BigDecimal.valueOf(max)) > 0) {
            throw new IllegalArgumentException(what + " must be an integer in [" + min + ", " + max + "], got '"
                    + v + "'");
        }
        return d.longValueExact();
    }

    private static float decimal(Object v, String what) {
        try {
            float f = v instanceof Number n ? n.floatValue() : Float.parseFloat(v.toString().trim());
            if (!Float.isFinite(f)) {
                throw new NumberFormatException();
            }
            return f;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " must be a finite number, got '" + v + "'", e);
        }
    }

    private static boolean bool(Object v, String what) {
        if (v instanceof Boolean b) {
            return b;
        }
        String s = v.toString().trim().toLowerCase(Locale.ROOT);
        if (s.equals("true") || s.equals("false")) {
            return Boolean.parseBoolean(s);
        }
        throw new IllegalArgumentException(what + " must be true or false, got '" + v + "'");
    }

    private static Set<Long> ids(Object v, String what) {
        List<?> list;
        if (v instanceof List<?> l) {
            list = l;
        } else if (v instanceof String s && s.trim().startsWith("[")) {
            try {
                list = new Gson().fromJson(s, List.class);
            } catch (JsonParseException e) {
                throw new IllegalArgumentException(what + " is not a JSON array of token ids: " + s, e);
            }
        } else {
            list = List.of(v);
        }
        Set<Long> out = new LinkedHashSet<>();
        for (Object o : list) {
            if (o == null) {
                throw new IllegalArgumentException(what + " holds a null token id: " + v);
            }
            out.add(integer(o, what, 0, Long.MAX_VALUE));
        }
        return out;
    }

    private static List<String> strings(Object v, String what) {
        List<String> out = new ArrayList<>();
        if (v instanceof List<?> list) {
            for (Object o : list) {
                if (!(o instanceof String s)) {
                    throw new IllegalArgumentException(what + " must hold strings, got " + o);
                }
                out.add(s);
            }
        } else if (v instanceof String s && s.trim().startsWith("[")) {
            try {
                List<String> parsed = new Gson().fromJson(s, new TypeToken<List<String>>() {}.getType());
                out.addAll(parsed);
            } catch (JsonParseException e) {
                throw new IllegalArgumentException(what + " is not a JSON array of strings: " + s, e);
            }
        } else {
            out.add(v.toString());
        }
        return out;
    }

    /** The keys DJL copies from {@code modelDir/serving.properties} into the arguments. */
    private static Set<String> servingPropertiesKeys(Path modelDir) throws IOException {
        Path file = modelDir == null ? null : modelDir.resolve("serving.properties");
        if (file == null || !Files.isRegularFile(file)) {
            return Set.of();
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        Set<String> keys = new TreeSet<>();
        for (String k : p.stringPropertyNames()) {
            if (!k.startsWith("option.")) {
                keys.add(k);
            }
        }
        return keys;
    }

    /** The generation argument closest to {@code key} (same letters, or 2 edits apart), or null. */
    private static String closest(String key) {
        String k = squash(key);
        return NAMES.stream()
                .filter(n -> squash(n).equals(k) || distance(squash(n), k) <= 2)
                .min(Comparator.comparingInt(n -> distance(squash(n), k)))
                .orElse(null);
    }

    private static String squash(String s) {
        return s.replace("_", "").replace("-", "").toLowerCase(Locale.ROOT);
    }

    /** Levenshtein distance. */
    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
