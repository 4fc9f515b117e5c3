package ai.djl.xlstm.zoo;

import ai.djl.xlstm.io.SafeTensors;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Seeded damage to one file of {@link HostileFilesFuzzTest}: byte-level (bits, bytes, cuts,
 * appended and moved chunks) and structure-aware (a safetensors header or a JSON/YAML document
 * parsed, edited as a tree and written back valid, so the edit reaches the loader's checks of
 * values rather than its parser: wrong types, wrong values, dtype, shape and offset edits, renamed,
 * dropped, duplicated and added keys).
 */
final class FileMutator {

    /** What a damage does; which ones apply depends on the kind of file. */
    enum Damage {
        // any file, bytes
        BIT_FLIP, BYTE_SET, TRUNCATE, APPEND, CHUNK_DELETE, CHUNK_DUPLICATE,
        // safetensors: the length prefix, the data, the header re-encoded with a valid length
        HEADER_LENGTH_DELTA, HEADER_LENGTH_RANDOM, DATA_BIT, HEADER_JSON, DTYPE_RELABEL, SHAPE_EDIT, OFFSET_EDIT,
        OFFSET_SWAP, TENSOR_RENAME, METADATA_EDIT, CHECKSUM_KEY_AND_DATA,
        // JSON or YAML, parsed, edited and written back well-formed
        WRONG_TYPE, VALUE_EDIT, KEY_DROP, KEY_DUPLICATE, KEY_RENAME, KEY_ADD,
        // the folder of a sharded checkpoint
        FIFO_SHARD, SHARD_MISSING;

        static final List<Damage> BYTES = List.of(BIT_FLIP, BYTE_SET, TRUNCATE, APPEND, CHUNK_DELETE, CHUNK_DUPLICATE);
        static final List<Damage> SAFETENSORS = List.of(HEADER_LENGTH_DELTA, HEADER_LENGTH_RANDOM, DATA_BIT,
                HEADER_JSON, DTYPE_RELABEL, SHAPE_EDIT, OFFSET_EDIT, OFFSET_SWAP, TENSOR_RENAME, METADATA_EDIT,
                CHECKSUM_KEY_AND_DATA);
        static final List<Damage> TREE = List.of(WRONG_TYPE, VALUE_EDIT, KEY_DROP, KEY_DUPLICATE, KEY_RENAME, KEY_ADD);
    }

    /** How a file is structured. */
    enum Kind { SAFETENSORS, JSON, YAML }

    /**
     * One damaged file.
     *
     * @param bytes the damaged content
     * @param dataChanged whether a safetensors file's tensor data bytes (not its header, length
     *     prefix or bytes after the data) were changed, cut or moved
     * @param detail what was done, for the report
     */
    record Mutation(byte[] bytes, boolean dataChanged, String detail) {}

    private static final String[] DTYPES = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL",
        "f32", "F8_E4M3", "", "F32 "};
    private static final byte[] INTERESTING = {0, (byte) 0xFF, (byte) 0x80, 0x7F, '"', '{', '}', '[', ']', ',', ':',
        '0', '9', '-', '.', 'e', ' ', '\n', '\\', (byte) 0xC3, (byte) 0xE2};

    private FileMutator() {}

    /** The damages that apply to a file of {@code kind}. */
    static List<Damage> applicable(Kind kind) {
        List<Damage> out = new ArrayList<>(Damage.BYTES);
        out.addAll(kind == Kind.SAFETENSORS ? Damage.SAFETENSORS : Damage.TREE);
        return out;
    }

    /** Applies {@code damage} to {@code original}, a file of {@code kind}. */
    static Mutation mutate(byte[] original, Kind kind, Damage damage, Random r) {
        long dataStart = kind == Kind.SAFETENSORS && original.length >= 8 ? 8 + headerLength(original) : original.length;
        return switch (damage) {
            case BIT_FLIP -> {
                byte[] b = original.clone();
                int flips = 1 + r.nextInt(3);
                boolean data = false;
                StringBuilder d = new StringBuilder("bits at");
                for (int i = 0; i < flips; i++) {
                    int at = r.nextInt(b.length);
                    int bit = r.nextInt(8);
                    b[at] ^= (byte) (1 << bit);
                    data |= at >= dataStart;
                    d.append(' ').append(at).append('.').append(bit);
                }
                yield new Mutation(b, data, d.toString());
            }
            case BYTE_SET -> {
                byte[] b = original.clone();
                int at = r.nextInt(b.length);
                byte value = r.nextBoolean() ? INTERESTING[r.nextInt(INTERESTING.length)] : (byte) r.nextInt(256);
                boolean changed = b[at] != value;
                b[at] = value;
                yield new Mutation(b, changed && at >= dataStart, "byte " + at + " = " + (value & 0xFF));
            }
            case TRUNCATE -> {
                int keep = r.nextBoolean() ? r.nextInt(original.length) : Math.max(0, original.length - 1 - r.nextInt(16));
                yield new Mutation(Arrays.copyOf(original, keep), keep < original.length, "cut to " + keep + " bytes");
            }
            case APPEND -> {
                int n = 1 + r.nextInt(r.nextBoolean() ? 8 : 4096);
                byte[] b = Arrays.copyOf(original, original.length + n);
                boolean spaces = r.nextBoolean();
                for (int i = original.length; i < b.length; i++) {
                    b[i] = spaces ? (byte) ' ' : (byte) r.nextInt(256);
                }
                yield new Mutation(b, false, n + (spaces ? " spaces" : " random bytes") + " appended");
            }
            case CHUNK_DELETE -> {
                int from = r.nextInt(original.length);
                int n = 1 + r.nextInt(Math.min(64, original.length - from));
                byte[] b = new byte[original.length - n];
                System.arraycopy(original, 0, b, 0, from);
                System.arraycopy(original, from + n, b, from, original.length - from - n);
                yield new Mutation(b, from + n > dataStart, n + " bytes deleted at " + from);
            }
            case CHUNK_DUPLICATE -> {
                int from = r.nextInt(original.length);
                int n = 1 + r.nextInt(Math.min(64, original.length - from));
                int to = r.nextInt(original.length + 1);
                byte[] b = new byte[original.length + n];
                System.arraycopy(original, 0, b, 0, to);
                System.arraycopy(original, from, b, to, n);
                System.arraycopy(original, to, b, to + n, original.length - to);
                yield new Mutation(b, to >= dataStart && to < original.length,
                        n + " bytes from " + from + " inserted at " + to);
            }
            case HEADER_LENGTH_DELTA, HEADER_LENGTH_RANDOM -> {
                byte[] b = original.clone();
                long length = headerLength(original);
                long edited = damage == Damage.HEADER_LENGTH_DELTA
                        ? length + (r.nextBoolean() ? -1 : 1) * (1 + r.nextInt(r.nextBoolean() ? 2 : 16))
                        : r.nextBoolean() ? r.nextLong() : r.nextInt(1 << 20);
                ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(edited);
                yield new Mutation(b, false, "header length " + length + " -> " + edited);
            }
            case DATA_BIT -> {
                if (dataStart >= original.length) {
                    yield mutate(original, kind, Damage.BIT_FLIP, r);
                }
                byte[] b = original.clone();
                int at = (int) (dataStart + r.nextInt((int) (original.length - dataStart)));
                b[at] ^= (byte) (1 << r.nextInt(8));
                yield new Mutation(b, true, "data bit at " + at);
            }
            case CHECKSUM_KEY_AND_DATA -> {
                JsonObject header = header(original);
                JsonObject meta = header.has("__metadata__") ? header.getAsJsonObject("__metadata__") : null;
                String detail = "data bit";
                // the key of either format: the whole file's (format 2) or the data's (format 1)
                for (String key : List.of(SafeTensors.CHECKSUM_KEY, SafeTensors.DATA_CHECKSUM_KEY)) {
                    if (meta != null && meta.has(key)) {
                        String renamed = key.substring(0, key.length() - 1) + Character.toUpperCase(key.charAt(key.length() - 1));
                        meta.add(renamed, meta.remove(key));
                        detail = "checksum key renamed " + renamed + ", and a data bit";
                        break;
                    }
                }
                byte[] b = withHeader(original, header);
                long start = 8 + headerLength(b);
                if (start < b.length) {
                    int at = (int) (start + r.nextInt((int) (b.length - start)));
                    b[at] ^= (byte) (1 << r.nextInt(8));
                }
                yield new Mutation(b, true, detail);
            }
            case HEADER_JSON, DTYPE_RELABEL, SHAPE_EDIT, OFFSET_EDIT, OFFSET_SWAP, TENSOR_RENAME, METADATA_EDIT -> {
                JsonObject header = header(original);
                String detail = editHeader(header, damage, r);
                yield new Mutation(withHeader(original, header), false, detail);
            }
            case WRONG_TYPE, VALUE_EDIT, KEY_DROP, KEY_DUPLICATE, KEY_RENAME, KEY_ADD -> {
                String text = new String(original, StandardCharsets.UTF_8);
                JsonElement root = kind == Kind.YAML
                        ? new Gson().toJsonTree(new Yaml(new SafeConstructor(new LoaderOptions())).load(text))
                        : JsonParser.parseString(text);
                String[] detail = new String[1];
                String edited = editTree(root, damage, r, detail);
                if (kind == Kind.YAML) {
                    DumperOptions options = new DumperOptions();
                    options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
                    edited = new Yaml(options).dump(new Gson().fromJson(edited, Object.class));
                }
                yield new Mutation(edited.getBytes(StandardCharsets.UTF_8), false, detail[0]);
            }
            case FIFO_SHARD, SHARD_MISSING -> throw new IllegalArgumentException(damage + " damages a folder, not a file");
        };
    }

    /** The length prefix of a safetensors file. */
    static long headerLength(byte[] file) {
        return ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /** The JSON header of a safetensors file (as written, in order). */
    static JsonObject header(byte[] file) {
        int length = (int) headerLength(file);
        return JsonParser.parseString(new String(file, 8, length, StandardCharsets.UTF_8)).getAsJsonObject();
    }

    /** The file with its header replaced by {@code header} (space-padded, a valid length), same data bytes. */
    static byte[] withHeader(byte[] file, JsonObject header) {
        return withHeaderText(file, header.toString());
    }

    private static byte[] withHeaderText(byte[] file, String text) {
        int dataStart = (int) (8 + headerLength(file));
        byte[] json = text.getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer out = ByteBuffer.allocate(8 + padded + file.length - dataStart).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(json);
        for (int i = json.length; i < padded; i++) {
            out.put((byte) ' ');
        }
        out.put(file, dataStart, file.length - dataStart);
        return out.array();
    }

    /** The tensor entries of a header (no metadata), by name. */
    private static List<String> tensorNames(JsonObject header) {
        List<String> names = new ArrayList<>();
        for (String k : header.keySet()) {
            if (!k.equals("__metadata__") && header.get(k).isJsonObject()) {
                names.add(k);
            }
        }
        return names;
    }

    private static String editHeader(JsonObject header, Damage damage, Random r) {
        List<String> names = tensorNames(header);
        if (names.isEmpty() && damage != Damage.METADATA_EDIT && damage != Damage.HEADER_JSON) {
            return editHeader(header, Damage.HEADER_JSON, r);
        }
        String name = names.isEmpty() ? null : names.get(r.nextInt(names.size()));
        JsonObject entry = name == null ? null : header.getAsJsonObject(name);
        switch (damage) {
            case HEADER_JSON -> {
                String[] detail = new String[1];
                String text = editTree(header, Damage.TREE.get(r.nextInt(Damage.TREE.size())), r, detail);
                JsonElement edited = JsonParser.parseString(text);
                // keep the edit only where it is still an object (else the whole header is replaced)
                for (String k : new ArrayList<>(header.keySet())) {
                    header.remove(k);
                }
                if (edited.isJsonObject()) {
                    edited.getAsJsonObject().entrySet().forEach(e -> header.add(e.getKey(), e.getValue()));
                }
                return "header " + detail[0];
            }
            case DTYPE_RELABEL -> {
                String old = entry.get("dtype").getAsString();
                String dtype = DTYPES[r.nextInt(DTYPES.length)];
                entry.addProperty("dtype", dtype);
                String detail = name + " dtype " + old + " -> '" + dtype + "'";
                JsonArray shape = entry.getAsJsonArray("shape");
                int oldSize = size(old);
                int newSize = size(dtype);
                if (r.nextBoolean() && shape.size() > 0 && oldSize > 0 && newSize > 0 && oldSize != newSize) {
                    // keep the byte count: scale the last dimension
                    long last = shape.get(shape.size() - 1).getAsLong();
                    if (last * oldSize % newSize == 0) {
                        shape.set(shape.size() - 1, new JsonPrimitive(last * oldSize / newSize));
                        detail += ", last dim " + last + " -> " + last * oldSize / newSize;
                    }
                }
                return detail;
            }
            case SHAPE_EDIT -> {
                JsonArray shape = entry.getAsJsonArray("shape");
                List<Long> dims = new ArrayList<>();
                shape.forEach(e -> dims.add(e.getAsLong()));
                String old = dims.toString();
                long count = dims.stream().reduce(1L, (a, b) -> a * b);
                int choice = r.nextInt(7);
                if (choice == 0 && dims.size() >= 2) {
                    java.util.Collections.swap(dims, 0, dims.size() - 1);
                } else if (choice == 1) {
                    dims.clear();
                    dims.add(count);
                } else if (choice == 2) {
                    dims.add(0, 1L);
                } else if (choice == 3 && !dims.isEmpty()) {
                    int i = r.nextInt(dims.size());
                    dims.set(i, dims.get(i) + (r.nextBoolean() ? 1 : -1));
                } else if (choice == 4 && !dims.isEmpty() && dims.get(dims.size() - 1) % 2 == 0) {
                    long last = dims.remove(dims.size() - 1);
                    dims.add(2L);
                    dims.add(last / 2);
                } else if (choice == 5 && dims.size() >= 2) {
                    long a = dims.remove(dims.size() - 1);
                    long b = dims.remove(dims.size() - 1);
                    dims.add(a * b);
                } else {
                    dims.clear();
                    if (r.nextBoolean()) {
                        dims.add(count);
                        dims.add(0L);
                    }
                }
                JsonArray edited = new JsonArray();
                dims.forEach(edited::add);
                entry.add("shape", edited);
                return name + " shape " + old + " -> " + dims;
            }
            case OFFSET_EDIT -> {
                JsonArray offsets = entry.getAsJsonArray("data_offsets");
                long begin = offsets.get(0).getAsLong();
                long end = offsets.get(1).getAsLong();
                long delta = (r.nextBoolean() ? 1 : -1) * (r.nextBoolean() ? 4L << r.nextInt(4) : 1 + r.nextInt(3));
                int which = r.nextInt(3);
                long nb = which != 1 ? begin + delta : begin;
                long ne = which != 0 ? end + delta : end;
                JsonArray edited = new JsonArray();
                edited.add(nb);
                edited.add(ne);
                entry.add("data_offsets", edited);
                return name + " data_offsets [" + begin + ", " + end + "] -> [" + nb + ", " + ne + "]";
            }
            case OFFSET_SWAP, TENSOR_RENAME -> {
                // a partner of the same byte length (offsets) or the same dtype and shape (names)
                List<String> partners = new ArrayList<>();
                for (String other : names) {
                    JsonObject o = header.getAsJsonObject(other);
                    boolean same = damage == Damage.OFFSET_SWAP
                            ? length(o) == length(entry)
                            : o.get("shape").equals(entry.get("shape")) && o.get("dtype").equals(entry.get("dtype"));
                    if (!other.equals(name) && same) {
                        partners.add(other);
                    }
                }
                if (partners.isEmpty()) {
                    if (damage == Damage.TENSOR_RENAME) {
                        String renamed = name.replaceFirst("\\d", "9");
                        renamed = renamed.equals(name) ? name + "_" : renamed;
                        header.add(renamed, header.remove(name));
                        return name + " renamed " + renamed;
                    }
                    partners.add(names.get(r.nextInt(names.size())));
                }
                String other = partners.get(r.nextInt(partners.size()));
                JsonObject o = header.getAsJsonObject(other);
                if (damage == Damage.OFFSET_SWAP) {
                    JsonElement offsets = entry.get("data_offsets");
                    entry.add("data_offsets", o.get("data_offsets"));
                    o.add("data_offsets", offsets);
                    return "data_offsets of " + name + " and " + other + " swapped";
                }
                header.add(name, o);
                header.add(other, entry);
                return "names of " + name + " and " + other + " swapped";
            }
            case METADATA_EDIT -> {
                if (!header.has("__metadata__") || !header.get("__metadata__").isJsonObject()) {
                    JsonObject meta = new JsonObject();
                    meta.addProperty("format", "pt");
                    header.add("__metadata__", meta);
                    return "__metadata__ added";
                }
                JsonObject meta = header.getAsJsonObject("__metadata__");
                List<String> keys = new ArrayList<>(meta.keySet());
                if (keys.isEmpty()) {
                    meta.addProperty("format", "pt");
                    return "__metadata__ key added";
                }
                String key = keys.get(r.nextInt(keys.size()));
                String value = meta.get(key).getAsString();
                switch (r.nextInt(4)) {
                    case 0 -> {
                        meta.remove(key);
                        return "__metadata__ key " + key + " dropped";
                    }
                    case 1 -> {
                        String renamed = flipCase(key, r);
                        meta.add(renamed, meta.remove(key));
                        return "__metadata__ key " + key + " renamed " + renamed;
                    }
                    case 2 -> {
                        String edited = value.isEmpty() ? "x" : flipChar(value, r);
                        meta.addProperty(key, edited);
                        return "__metadata__ " + key + " '" + value + "' -> '" + edited + "'";
                    }
                    default -> {
                        String edited = List.of("vanilla", "fused", "", "1", "xlstm-session", "00000000")
                                .get(r.nextInt(6));
                        meta.addProperty(key, edited);
                        return "__metadata__ " + key + " '" + value + "' -> '" + edited + "'";
                    }
                }
            }
            default -> throw new AssertionError(damage);
        }
    }

    private static long length(JsonObject entry) {
        JsonArray offsets = entry.getAsJsonArray("data_offsets");
        return offsets.get(1).getAsLong() - offsets.get(0).getAsLong();
    }

    private static int size(String dtype) {
        return switch (dtype) {
            case "F64", "I64" -> 8;
            case "F32", "I32" -> 4;
            case "F16", "BF16", "I16" -> 2;
            case "I8", "U8", "BOOL" -> 1;
            default -> 0;
        };
    }

    /** A node of a JSON tree: its container and its key (objects) or index (arrays). */
    private record Node(JsonElement container, String key, int index) {
        JsonElement get() {
            return key != null ? container.getAsJsonObject().get(key) : container.getAsJsonArray().get(index);
        }

        void set(JsonElement value) {
            if (key != null) {
                container.getAsJsonObject().add(key, value);
            } else {
                container.getAsJsonArray().set(index, value);
            }
        }
    }

    private static void collect(JsonElement e, List<Node> out) {
        if (e.isJsonObject()) {
            for (Map.Entry<String, JsonElement> m : e.getAsJsonObject().entrySet()) {
                out.add(new Node(e, m.getKey(), -1));
                collect(m.getValue(), out);
            }
        } else if (e.isJsonArray()) {
            JsonArray a = e.getAsJsonArray();
            for (int i = 0; i < a.size(); i++) {
                out.add(new Node(e, null, i));
                collect(a.get(i), out);
            }
        }
    }

    private static final JsonElement[] WRONG_VALUES = {
        new JsonPrimitive("x"), new JsonPrimitive(""), new JsonPrimitive("64"), new JsonPrimitive(0),
        new JsonPrimitive(-1), new JsonPrimitive(1.5), new JsonPrimitive(true), JsonNull.INSTANCE, new JsonArray(),
        new JsonObject(), JsonParser.parseString("[1, 2]"), JsonParser.parseString("{\"a\": 1}"),
        JsonParser.parseString("1e300"), JsonParser.parseString("2147483648"),
        JsonParser.parseString("9223372036854775807"), JsonParser.parseString("18446744073709551616"),
        new JsonPrimitive("NaN"), new JsonPrimitive("Infinity"), new JsonPrimitive("-0"),
    };

    private static final JsonElement[] NUMBERS = {
        new JsonPrimitive(0), new JsonPrimitive(-1), new JsonPrimitive(1), new JsonPrimitive(2),
        JsonParser.parseString("0.5"), JsonParser.parseString("-0.0"), JsonParser.parseString("1e-45"),
        JsonParser.parseString("1e300"), JsonParser.parseString("-1e300"), JsonParser.parseString("2147483647"),
        JsonParser.parseString("2147483648"), JsonParser.parseString("4294967296"),
        JsonParser.parseString("9223372036854775807"), JsonParser.parseString("9223372036854775808"),
        JsonParser.parseString("-9223372036854775808"), JsonParser.parseString("65536"),
    };

    /** Edits one node of {@code root} (which is changed) and returns the document as text. */
    private static String editTree(JsonElement root, Damage damage, Random r, String[] detail) {
        List<Node> nodes = new ArrayList<>();
        collect(root, nodes);
        if (nodes.isEmpty()) {
            detail[0] = "document replaced by {}";
            return "{}";
        }
        Node node = nodes.get(r.nextInt(nodes.size()));
        String where = node.key != null ? "'" + node.key + "'" : "[" + node.index + "]";
        JsonElement old = node.get();
        switch (damage) {
            case WRONG_TYPE -> {
                JsonElement v = WRONG_VALUES[r.nextInt(WRONG_VALUES.length)].deepCopy();
                node.set(v);
                detail[0] = where + " " + abbreviate(old) + " -> " + v;
            }
            case VALUE_EDIT -> {
                JsonElement v;
                if (old.isJsonPrimitive() && old.getAsJsonPrimitive().isNumber()) {
                    double d = old.getAsDouble();
                    int c = r.nextInt(4);
                    v = c == 0 ? NUMBERS[r.nextInt(NUMBERS.length)]
                            : c == 1 ? number(d + (r.nextBoolean() ? 1 : -1))
                            : c == 2 ? number(d * 2) : number(-d);
                } else if (old.isJsonPrimitive() && old.getAsJsonPrimitive().isString()) {
                    String s = old.getAsString();
                    List<String> others = new ArrayList<>();
                    for (Node n : nodes) {
                        JsonElement e = n.get();
                        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() && others.size() < 64) {
                            others.add(e.getAsString());
                        }
                    }
                    int c = r.nextInt(5);
                    v = new JsonPrimitive(c == 0 ? "" : c == 1 ? others.get(r.nextInt(others.size()))
                            : c == 2 ? s.toUpperCase(java.util.Locale.ROOT) : c == 3 ? s + "\u00e9\u0000" : flipChar(s, r));
                } else if (old.isJsonPrimitive() && old.getAsJsonPrimitive().isBoolean()) {
                    v = new JsonPrimitive(!old.getAsBoolean());
                } else if (old.isJsonArray()) {
                    JsonArray a = old.getAsJsonArray().deepCopy();
                    if (a.size() > 0 && r.nextBoolean()) {
                        a.remove(r.nextInt(a.size()));
                    } else if (a.size() > 0) {
                        a.add(a.get(r.nextInt(a.size())).deepCopy());
                    } else {
                        a.add(0);
                    }
                    v = a;
                } else {
                    v = NUMBERS[r.nextInt(NUMBERS.length)];
                }
                node.set(v);
                detail[0] = where + " " + abbreviate(old) + " -> " + abbreviate(v);
            }
            case KEY_DROP -> {
                if (node.key != null) {
                    node.container.getAsJsonObject().remove(node.key);
                } else {
                    node.container.getAsJsonArray().remove(node.index);
                }
                detail[0] = where + " dropped";
            }
            case KEY_RENAME -> {
                if (node.key == null) {
                    return editTree(root, Damage.KEY_DROP, r, detail);
                }
                String renamed = r.nextBoolean() ? flipCase(node.key, r) : node.key + "_";
                JsonObject o = node.container.getAsJsonObject();
                o.add(renamed, o.remove(node.key));
                detail[0] = where + " renamed '" + renamed + "'";
            }
            case KEY_ADD -> {
                if (node.key == null) {
                    node.container.getAsJsonArray().add(old.deepCopy());
                    detail[0] = "array element " + where + " repeated at the end";
                } else {
                    node.container.getAsJsonObject().add("unknown_field", WRONG_VALUES[r.nextInt(WRONG_VALUES.length)]);
                    detail[0] = "field 'unknown_field' added beside " + where;
                }
            }
            case KEY_DUPLICATE -> {
                if (node.key == null) {
                    return editTree(root, Damage.KEY_ADD, r, detail);
                }
                // a key twice in one object: JSON trees cannot hold it, so a marker is renamed in the text
                String marker = "\u0001duplicate\u0001";
                JsonElement v = r.nextBoolean() ? old.deepCopy() : WRONG_VALUES[r.nextInt(WRONG_VALUES.length)];
                node.container.getAsJsonObject().add(marker, v);
                detail[0] = where + " appears twice (second " + abbreviate(v) + ")";
                String text = root.toString();
                return text.replace(new Gson().toJson(marker), new Gson().toJson(node.key));
            }
            default -> throw new AssertionError(damage);
        }
        return root.toString();
    }

    private static JsonElement number(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? new JsonPrimitive((long) d) : new JsonPrimitive(d);
    }

    private static String abbreviate(JsonElement e) {
        String s = String.valueOf(e);
        return s.length() > 40 ? s.substring(0, 37) + "..." : s;
    }

    private static String flipCase(String s, Random r) {
        if (s.isEmpty()) {
            return "X";
        }
        char[] c = s.toCharArray();
        int i = r.nextInt(c.length);
        c[i] = Character.isUpperCase(c[i]) ? Character.toLowerCase(c[i]) : Character.toUpperCase(c[i]);
        return new String(c).equals(s) ? s + "_" : new String(c);
    }

    private static String flipChar(String s, Random r) {
        if (s.isEmpty()) {
            return "x";
        }
        char[] c = s.toCharArray();
        int i = r.nextInt(c.length);
        c[i] = (char) (c[i] ^ (1 << r.nextInt(7)));
        return new String(c);
    }
}
