package ai.djl.xlstm.config;

import java.util.List;
import java.util.Map;

/**
 * Typed reads from a parsed {@code config.json} / {@code config.yaml} (a map of upstream field
 * names), with defaults, and errors that name the field.
 */
final class ConfigMap {

    private final String section;
    private final Map<String, Object> map;

    ConfigMap(String section, Map<String, Object> map) {
        this.section = section;
        this.map = map == null ? Map.of() : map;
    }

    boolean has(String key) {
        return map.containsKey(key) && map.get(key) != null;
    }

    Object raw(String key) {
        return map.get(key);
    }

    int getInt(String key, int defaultValue) {
        Object v = map.get(key);
        if (v == null) {
            return defaultValue;
        }
        if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
            double d = n.doubleValue();
            if (d < Integer.MIN_VALUE || d > Integer.MAX_VALUE) {
                throw bad(key, v, "a 32-bit integer");
            }
            return n.intValue();
        }
        throw bad(key, v, "an integer");
    }

    int requireInt(String key) {
        if (!has(key)) {
            throw new IllegalArgumentException("config" + where() + ": missing field '" + key + "'");
        }
        return getInt(key, 0);
    }

    double getDouble(String key, double defaultValue) {
        Object v = map.get(key);
        if (v == null) {
            return defaultValue;
        }
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw bad(key, v, "a number");
    }

    boolean getBoolean(String key, boolean defaultValue) {
        Object v = map.get(key);
        if (v == null) {
            return defaultValue;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        throw bad(key, v, "true or false");
    }

    String getString(String key, String defaultValue) {
        Object v = map.get(key);
        if (v == null) {
            return defaultValue;
        }
        if (v instanceof String s) {
            return s;
        }
        throw bad(key, v, "a string");
    }

    @SuppressWarnings("unchecked")
    ConfigMap section(String key) {
        Object v = map.get(key);
        if (v == null) {
            return null;
        }
        if (v instanceof Map<?, ?> m) {
            return new ConfigMap(section.isEmpty() ? key : section + "." + key, (Map<String, Object>) m);
        }
        throw bad(key, v, "an object");
    }

    List<?> getList(String key) {
        Object v = map.get(key);
        if (v == null || v instanceof List<?>) {
            return (List<?>) v;
        }
        throw bad(key, v, "a list");
    }

    private String where() {
        return section.isEmpty() ? "" : " section '" + section + "'";
    }

    private IllegalArgumentException bad(String key, Object v, String expected) {
        return new IllegalArgumentException(
                "config" + where() + ": field '" + key + "' must be " + expected + ", got " + v);
    }

    /** Upstream {@code round_up_to_next_multiple_of}: {@code floor((x + m - 1) / m) * m}. */
    static int roundUpToMultiple(double x, int multiple) {
        return (int) (Math.floor((x + multiple - 1) / multiple) * multiple);
    }

    /** A float as the double with the same shortest decimal form ({@code 1e-6f -> 1e-6}). */
    static double decimal(float value) {
        return Double.parseDouble(Float.toString(value));
    }

    static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    /** Requires {@code min <= value <= max}; the message names the field, the value and the bound. */
    static void requireIn(String field, int value, int min, int max) {
        require(value >= min && value <= max, field + " must be in [" + min + ", " + max + "], got " + value);
    }

    /** Requires {@code 0 < value <= max} (NaN fails). */
    static void requirePositiveAtMost(String field, double value, double max) {
        require(value > 0 && value <= max, field + " must be in (0, " + max + "], got " + value);
    }

    /** Requires {@code 0 <= value < 1} (NaN fails): a dropout rate. */
    static void requireRate(String field, float value) {
        require(value >= 0 && value < 1, field + " must be in [0, 1), got " + value);
    }

    /** Requires a finite {@code value > 0}: an epsilon. */
    static void requireFinitePositive(String field, float value) {
        require(Float.isFinite(value) && value > 0, field + " must be finite and > 0, got " + value);
    }

    /** Requires a finite {@code value >= 0}: a soft cap (0 disables it). */
    static void requireFiniteNonNegative(String field, float value) {
        require(Float.isFinite(value) && value >= 0, field + " must be finite and >= 0, got " + value);
    }
}
