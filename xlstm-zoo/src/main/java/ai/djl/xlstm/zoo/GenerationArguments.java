package ai.djl.xlstm.zoo;

import ai.djl.xlstm.generate.GenerationConfig;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import com.google.gson.reflect.TypeToken;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The generation settings of a zoo model: the defaults of the model folder's {@code
 * generation_config.json} (Hugging Face format), overridden by Criteria arguments named as in
 * Hugging Face {@code generate}: {@code max_new_tokens}, {@code temperature}, {@code top_k}, {@code
 * top_p}, {@code min_p}, {@code repetition_penalty}, {@code num_beams}, {@code length_penalty},
 * {@code seed} and {@code stop} (a string, a list of strings, or a JSON array of strings).
 */
public final class GenerationArguments {

    /** The Criteria arguments read here. */
    static final Set<String> NAMES = Set.of("max_new_tokens", "temperature", "top_k", "top_p", "min_p",
            "repetition_penalty", "num_beams", "length_penalty", "seed", "stop");

    private GenerationArguments() {}

    /**
     * The settings for a model in {@code modelDir} with the tokenizer's end-of-text token.
     *
     * @throws IllegalArgumentException naming the argument or field of a bad value
     */
    public static GenerationConfig read(Path modelDir, Map<String, ?> arguments, OptionalLong endOfText)
            throws IOException {
        GenerationConfig.Builder b = GenerationConfig.builder();
        Set<Long> eos = new LinkedHashSet<>();
        endOfText.ifPresent(eos::add);
        Path file = modelDir == null ? null : modelDir.resolve("generation_config.json");
        if (file != null && Files.isRegularFile(file)) {
            Map<String, Object> defaults;
            try {
                defaults = new Gson().fromJson(Files.readString(file, StandardCharsets.UTF_8),
                        new TypeToken<Map<String, Object>>() {}.getType());
            } catch (JsonParseException e) {
                throw new IllegalArgumentException(file + " is not valid JSON: " + e.getMessage(), e);
            } catch (CharacterCodingException e) {
                throw new IllegalArgumentException(file + " is not UTF-8 text", e);
            }
            if (defaults != null) {
                String where = file.getFileName() + " field '";
                if (Boolean.FALSE.equals(defaults.get("do_sample"))) {
                    b.temperature(0f);
                }
                apply(b, defaults, where);
                Object ids = defaults.get("eos_token_id");
                if (ids != null) {
                    eos.clear();
                    for (Object id : ids instanceof List<?> l ? l : List.of(ids)) {
                        eos.add(integer(id, where + "eos_token_id'"));
                    }
                }
                if (defaults.get("bos_token_id") != null) {
                    b.bosTokenId(integer(defaults.get("bos_token_id"), where + "bos_token_id'"));
                }
            }
        }
        b.eosTokenIds(eos);
        apply(b, arguments, "Criteria argument '");
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("generation settings of " + modelDir + ": " + e.getMessage(), e);
        }
    }

    private static void apply(GenerationConfig.Builder b, Map<String, ?> m, String where) {
        for (String name : NAMES) {
            Object v = m.get(name);
            if (v == null) {
                continue;
            }
            String what = where + name + "'";
            switch (name) {
                case "max_new_tokens" -> b.maxNewTokens(int32(v, what));
                case "temperature" -> b.temperature(decimal(v, what));
                case "top_k" -> b.topK(int32(v, what));
                case "top_p" -> b.topP(decimal(v, what));
                case "min_p" -> b.minP(decimal(v, what));
                case "repetition_penalty" -> b.repetitionPenalty(decimal(v, what));
                case "num_beams" -> b.numBeams(int32(v, what));
                case "length_penalty" -> b.lengthPenalty(decimal(v, what));
                case "seed" -> b.seed(integer(v, what));
                case "stop" -> b.stopStrings(strings(v, what));
                default -> throw new AssertionError(name);
            }
            try {
                b.build(); // attribute a bad value to the setting that brought it
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(what + " = " + v + ": " + e.getMessage(), e);
            }
        }
    }

    private static int int32(Object v, String what) {
        long value = integer(v, what);
        if (value != (int) value) {
            throw new IllegalArgumentException(what + " must be an integer from " + Integer.MIN_VALUE + " to "
                    + Integer.MAX_VALUE + ", got '" + v + "'");
        }
        return (int) value;
    }

    private static long integer(Object v, String what) {
        if (v == null) { // a null in a list: [1, null], or [1, ] read leniently
            throw new IllegalArgumentException(what + " must be an integer, got null");
        }
        try {
            double d = v instanceof Number n ? n.doubleValue() : Double.parseDouble(v.toString().trim());
            if (d != Math.rint(d) || Math.abs(d) > Long.MAX_VALUE / 2.0) {
                throw new NumberFormatException();
            }
            return (long) d;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " must be an integer, got '" + v + "'", e);
        }
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
}
