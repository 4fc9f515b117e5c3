package ai.djl.xlstm.io;

import static ai.djl.xlstm.io.SafeTensors.CHECKSUM_KEY;
import static ai.djl.xlstm.io.SafeTensors.DATA_CHECKSUM_KEY;
import static ai.djl.xlstm.io.SafeTensors.FORMAT_KEY;
import static ai.djl.xlstm.io.SafeTensors.FORMAT_VERSION;

import ai.djl.xlstm.io.SafeTensors.TensorInfo;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;

import java.io.EOFException;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * A validated safetensors header, and its parsing and validation: the length prefix, UTF-8 and
 * strict JSON with no key twice, each tensor's dtype, shape and offsets, the tensors covering the
 * data section exactly, and what the metadata says about the checksum's format (where its digits
 * lie, or why the file is refused). Nothing here reads tensor data; the helpers shared by the
 * reader, the writer and the shard discovery (opening a regular file, reading fully, the messages
 * that name the file and tensor) live here too.
 *
 * @param tensors the tensor entries in file order, without {@code __metadata__}
 * @param metadata the {@code __metadata__} string pairs in file order; empty when the file has none
 * @param dataStart the first byte of the data section: {@code 8 + N}
 * @param checksumAt where the 8 hex digits of {@link SafeTensors#CHECKSUM_KEY} lie in the file; -1
 *     for a file without it
 */
record SafeTensorsHeader(Map<String, TensorInfo> tensors, Map<String, String> metadata, long dataStart,
        long checksumAt) {

    static final String METADATA_KEY = "__metadata__";
    private static final String OUR_PREFIX = "xlstm.";
    static final List<String> OUR_KEYS = List.of(FORMAT_KEY, CHECKSUM_KEY, DATA_CHECKSUM_KEY);
    private static final Pattern HEX8 = Pattern.compile("[0-9a-f]{8}");
    /**
     * How the checksum appears in a header written by {@link SafeTensors#save}: the one place it is
     * looked for.
     */
    static final byte[] CHECKSUM_FIELD = ("\"" + CHECKSUM_KEY + "\":\"").getBytes(StandardCharsets.US_ASCII);
    static final long MAX_HEADER_BYTES = 100L << 20;

    private record Parsed(Map<String, TensorInfo> tensors, Map<String, String> metadata) {}

    /**
     * Reads and validates the header of a safetensors file (see {@link SafeTensors#readHeader}).
     *
     * @throws IllegalArgumentException if the header is malformed, or the file is not a regular file
     */
    static SafeTensorsHeader read(Path file) throws IOException {
        try (FileChannel channel = openRegular(file)) {
            return read(channel, file);
        }
    }

    /** Reads and validates the header of the safetensors file open in {@code channel}. */
    static SafeTensorsHeader read(FileChannel channel, Path file) throws IOException {
        long fileSize = channel.size();
        if (fileSize < 8) {
            throw invalid(file, "file of " + fileSize + " bytes is too short for a header");
        }
        ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, prefix, 0, file);
        long headerLength = prefix.getLong(0);
        if (headerLength <= 0 || headerLength > MAX_HEADER_BYTES) {
            throw invalid(
                    file,
                    "header length " + Long.toUnsignedString(headerLength)
                            + " is not between 1 and " + MAX_HEADER_BYTES);
        }
        if (headerLength > fileSize - 8) {
            throw invalid(
                    file, "header length " + headerLength + " exceeds the file size " + fileSize);
        }
        ByteBuffer bytes = ByteBuffer.allocate((int) headerLength);
        readFully(channel, bytes, 8, file);
        bytes.flip();
        String json;
        try {
            json = StandardCharsets.UTF_8.newDecoder().decode(bytes).toString();
        } catch (CharacterCodingException e) {
            throw invalid(file, "header is not valid UTF-8");
        }
        long dataStart = 8 + headerLength;
        Parsed parsed = parseHeader(json, fileSize - dataStart, file);
        long checksumAt = checksumPosition(bytes.array(), parsed.metadata(), file);
        return new SafeTensorsHeader(
                parsed.tensors(), parsed.metadata(), dataStart, checksumAt < 0 ? -1 : 8 + checksumAt);
    }

    private static Parsed parseHeader(String json, long dataSize, Path file) {
        JsonElement root = parseJson(json, file);
        if (!root.isJsonObject()) {
            throw invalid(file, "header JSON must be an object");
        }
        requireUniqueKeys(json, file, SafeTensorsHeader::duplicateInHeader);
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> entry : root.getAsJsonObject().entrySet()) {
            if (METADATA_KEY.equals(entry.getKey())) {
                requireStringMap(entry.getValue(), METADATA_KEY, file);
                entry.getValue().getAsJsonObject().entrySet()
                        .forEach(m -> metadata.put(m.getKey(), m.getValue().getAsString()));
            } else {
                TensorInfo info = parseEntry(entry.getKey(), entry.getValue(), dataSize, file);
                tensors.put(info.name(), info);
            }
        }
        requireExactCover(tensors.values(), dataSize, file);
        return new Parsed(tensors, metadata);
    }

    private static TensorInfo parseEntry(
            String name, JsonElement value, long dataSize, Path file) {
        if (!value.isJsonObject()) {
            throw invalidTensor(file, name, "entry must be a JSON object");
        }
        JsonObject entry = value.getAsJsonObject();
        JsonElement dtypeName = entry.get("dtype");
        Dtype dtype = isString(dtypeName) ? Dtype.parse(dtypeName.getAsString()) : null;
        if (dtype == null) {
            throw invalidTensor(
                    file,
                    name,
                    "has missing or unknown dtype " + dtypeName
                            + " (supported: " + Arrays.toString(Dtype.values()) + ')');
        }
        long[] shape = nonNegativeLongs(entry, "shape", name, file);
        long[] offsets = nonNegativeLongs(entry, "data_offsets", name, file);
        if (offsets.length != 2) {
            throw invalidTensor(file, name, "data_offsets must hold exactly two integers");
        }
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end || end > dataSize) {
            throw invalidTensor(
                    file,
                    name,
                    "data_offsets " + Arrays.toString(offsets)
                            + " do not lie within the data section of " + dataSize + " bytes");
        }
        long byteLength;
        try {
            long elements = 1;
            for (long dimension : shape) {
                elements = Math.multiplyExact(elements, dimension);
            }
            byteLength = Math.multiplyExact(elements, dtype.size);
        } catch (ArithmeticException e) {
            throw invalidTensor(
                    file, name, "shape " + Arrays.toString(shape) + " has too many elements");
        }
        if (end - begin != byteLength) {
            throw invalidTensor(
                    file,
                    name,
                    "has " + (end - begin) + " data bytes but shape " + Arrays.toString(shape)
                            + " of " + dtype + " needs " + byteLength);
        }
        return new TensorInfo(name, dtype.name(), shape, begin, end);
    }

    private static long[] nonNegativeLongs(JsonObject entry, String key, String name, Path file) {
        JsonElement value = entry.get(key);
        if (value != null && value.isJsonArray()) {
            JsonArray array = value.getAsJsonArray();
            long[] numbers = new long[array.size()];
            for (int i = 0; i < numbers.length; i++) {
                numbers[i] = nonNegativeLong(array.get(i));
            }
            if (Arrays.stream(numbers).allMatch(n -> n >= 0)) {
                return numbers;
            }
        }
        throw invalidTensor(file, name, key + " must be an array of non-negative integers");
    }

    /** Returns the value of an integer literal that fits a long, or -1 for anything else. */
    private static long nonNegativeLong(JsonElement element) {
        if (element.isJsonPrimitive() && element.getAsJsonPrimitive().isNumber()) {
            try {
                return Long.parseLong(element.getAsString());
            } catch (NumberFormatException e) {
                return -1;
            }
        }
        return -1;
    }

    /**
     * Requires the tensors to cover the data section exactly, as the reference reader does: sorted by
     * offsets, each one starts where the one before ends (no gap, no overlap; empty tensors included),
     * the first at 0, and the last ends where the file ends. A header length that is off, or bytes
     * appended to the file, would otherwise shift or extend what is read without a word.
     */
    private static void requireExactCover(Collection<TensorInfo> tensors, long dataSize, Path file) {
        List<TensorInfo> sorted =
                tensors.stream()
                        .sorted(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end))
                        .toList();
        long covered = 0;
        TensorInfo last = null;
        for (TensorInfo current : sorted) {
            if (current.begin() < covered) {
                throw invalid(
                        file,
                        "tensors '" + last.name() + "' and '" + current.name()
                                + "' overlap in the data section");
            }
            if (current.begin() > covered) {
                throw invalid(
                        file,
                        "bytes " + covered + " to " + current.begin() + " of the data section belong to no tensor"
                                + " (a gap before tensor '" + current.name() + "'); the tensors must cover the data"
                                + " section exactly");
            }
            covered = current.end();
            last = current;
        }
        if (covered != dataSize) {
            throw invalid(
                    file,
                    "the tensors cover " + covered + " bytes but the data section (from the end of the header to the"
                            + " end of the file) has " + dataSize + ": a wrong header length, or bytes appended to"
                            + " the file");
        }
    }

    static Map<String, String> requireStringMap(JsonElement value, String what, Path file) {
        if (!value.isJsonObject()
                || !value.getAsJsonObject().asMap().values().stream()
                        .allMatch(SafeTensorsHeader::isString)) {
            throw invalid(file, what + " must be a JSON object of strings");
        }
        Map<String, String> map = new LinkedHashMap<>();
        value.getAsJsonObject().asMap().forEach((key, item) -> map.put(key, item.getAsString()));
        return map;
    }

    private static boolean isString(JsonElement element) {
        return element != null
                && element.isJsonPrimitive()
                && element.getAsJsonPrimitive().isString();
    }

    static JsonElement parseJson(String json, Path file) {
        try {
            JsonReader reader = new JsonReader(new StringReader(json));
            reader.setStrictness(Strictness.STRICT);
            JsonElement root = JsonParser.parseReader(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw invalid(file, "unexpected data after the JSON value");
            }
            return root;
        } catch (IOException | JsonParseException e) {
            throw new IllegalArgumentException(file + ": invalid JSON: " + e.getMessage(), e);
        }
    }

    /**
     * Rejects a key that appears twice in one JSON object, anywhere in {@code json} (already parsed,
     * so well-formed, with an object at the top). Gson keeps the last of them silently, so another
     * reader could see another tensor under the same name. {@code describe} names the duplicate
     * from the keys leading to it (the last one is the duplicate key; array elements are {@code
     * [i]}).
     */
    static void requireUniqueKeys(
            String json, Path file, Function<List<String>, String> describe) {
        try (JsonReader reader = new JsonReader(new StringReader(json))) {
            reader.setStrictness(Strictness.STRICT);
            requireUniqueKeys(reader, new ArrayList<>(), file, describe);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": invalid JSON: " + e.getMessage(), e);
        }
    }

    private static void requireUniqueKeys(
            JsonReader reader, List<String> path, Path file, Function<List<String>, String> describe)
            throws IOException {
        switch (reader.peek()) {
            case BEGIN_OBJECT -> {
                reader.beginObject();
                Set<String> keys = new HashSet<>();
                while (reader.hasNext()) {
                    path.add(reader.nextName());
                    if (!keys.add(path.get(path.size() - 1))) {
                        throw invalid(file, describe.apply(path));
                    }
                    requireUniqueKeys(reader, path, file, describe);
                    path.remove(path.size() - 1);
                }
                reader.endObject();
            }
            case BEGIN_ARRAY -> {
                reader.beginArray();
                for (int i = 0; reader.hasNext(); i++) {
                    JsonToken next = reader.peek();
                    if (next == JsonToken.BEGIN_OBJECT || next == JsonToken.BEGIN_ARRAY) {
                        path.add("[" + i + "]");
                        requireUniqueKeys(reader, path, file, describe);
                        path.remove(path.size() - 1);
                    } else {
                        reader.skipValue();
                    }
                }
                reader.endArray();
            }
            default -> reader.skipValue();
        }
    }

    /** Names a key of a safetensors header that appears twice (see {@link #requireUniqueKeys}). */
    private static String duplicateInHeader(List<String> path) {
        String key = path.get(path.size() - 1);
        String owner = path.get(0);
        if (path.size() == 1) {
            return METADATA_KEY.equals(key)
                    ? METADATA_KEY + " appears twice in the header"
                    : "tensor '" + key + "' appears twice in the header";
        }
        return "key '" + key + "' appears twice in "
                + (METADATA_KEY.equals(owner) ? METADATA_KEY : "the entry of tensor '" + owner + "'");
    }

    /**
     * Where the 8 hex digits of {@link SafeTensors#CHECKSUM_KEY} lie in the header bytes ({@code
     * header}), or -1 for a file without it, after checking what the metadata says about the file's
     * writer:
     *
     * <ul>
     *   <li>{@link SafeTensors#CHECKSUM_KEY} (format {@value SafeTensors#FORMAT_VERSION}): it must
     *       appear once, written as {@link SafeTensors#save} writes it, and {@link
     *       SafeTensors#FORMAT_KEY}, if present, must be {@value SafeTensors#FORMAT_VERSION};
     *   <li>{@link SafeTensors#DATA_CHECKSUM_KEY} alone (format 1, written before {@link
     *       SafeTensors#FORMAT_KEY}): checked on load against the data;
     *   <li>no checksum: refused if any metadata key is one of this library's ({@code xlstm.*}, or one
     *       bit away from {@link SafeTensors#FORMAT_KEY}, {@link SafeTensors#CHECKSUM_KEY} or {@link
     *       SafeTensors#DATA_CHECKSUM_KEY}), since our files always carry one, so the key or its
     *       checksum was damaged; files of other writers are read as they are.
     * </ul>
     */
    private static int checksumPosition(byte[] header, Map<String, String> metadata, Path file) {
        String format = metadata.get(FORMAT_KEY);
        String checksum = metadata.get(CHECKSUM_KEY);
        if (format != null && !FORMAT_VERSION.equals(format)) {
            throw invalid(file, "metadata " + FORMAT_KEY + " is '" + format + "', but this library reads format "
                    + FORMAT_VERSION + " (and format 1, without the key): written by a newer version, or damaged");
        }
        if (checksum != null) {
            int at = indexOf(header, CHECKSUM_FIELD);
            int digits = at + CHECKSUM_FIELD.length;
            boolean once = at >= 0 && indexOf(header, CHECKSUM_FIELD, at + 1) < 0;
            if (!HEX8.matcher(checksum).matches() || !once || digits + 9 > header.length
                    || !checksum.equals(new String(header, digits, 8, StandardCharsets.US_ASCII))
                    || header[digits + 8] != '"') {
                throw invalid(file, "its checksum " + CHECKSUM_KEY + " '" + checksum + "' is not written as this"
                        + " library writes it (8 lowercase hex digits, once in the header): the file is damaged");
            }
            return digits;
        }
        String dataChecksum = metadata.get(DATA_CHECKSUM_KEY);
        if (format == null && dataChecksum != null) {
            if (!HEX8.matcher(dataChecksum).matches()) {
                throw invalid(file, "its checksum " + DATA_CHECKSUM_KEY + " '" + dataChecksum
                        + "' is not 8 lowercase hex digits: the file is damaged");
            }
            return -1; // format 1: the data alone are checked on load
        }
        List<String> ours = metadata.keySet().stream().filter(SafeTensorsHeader::isOurKey).toList();
        if (!ours.isEmpty()) {
            throw invalid(file, "its metadata has keys of this library's writer " + ours + " but no valid checksum ("
                    + CHECKSUM_KEY + "): the file is damaged, or was edited by another tool, so its tensors cannot"
                    + " be trusted");
        }
        return -1;
    }

    /** Whether a metadata key is this library's, or one flipped bit away from one of its fixed keys. */
    private static boolean isOurKey(String key) {
        if (key.startsWith(OUR_PREFIX)) {
            return true;
        }
        for (String ours : OUR_KEYS) {
            if (ours.length() == key.length()) {
                int differing = 0;
                for (int i = 0; i < key.length(); i++) {
                    differing += Integer.bitCount(ours.charAt(i) ^ key.charAt(i));
                }
                if (differing == 1) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The first index of {@code pattern} in {@code bytes} at or after {@code from}, or -1. */
    private static int indexOf(byte[] bytes, byte[] pattern, int from) {
        outer:
        for (int i = Math.max(0, from); i <= bytes.length - pattern.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (bytes[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    static int indexOf(byte[] bytes, byte[] pattern) {
        return indexOf(bytes, pattern, 0);
    }

    /**
     * Opens a file for reading, refusing anything but a regular file: a FIFO would block the open
     * until some process writes to it.
     */
    static FileChannel openRegular(Path file) throws IOException {
        if (Files.exists(file) && !Files.isRegularFile(file)) {
            throw invalid(file, "not a regular file (a folder, pipe or device); expected a safetensors file");
        }
        return FileChannel.open(file, StandardOpenOption.READ);
    }

    static String hex(long crc32c) {
        return String.format(Locale.ROOT, "%08x", crc32c);
    }

    static void readFully(FileChannel channel, ByteBuffer target, long position, Path file)
            throws IOException {
        while (target.hasRemaining()) {
            int read = channel.read(target, position);
            if (read < 0) {
                throw new EOFException(file + ": file ended early; was it changed while loading?");
            }
            position += read;
        }
    }

    static IllegalArgumentException invalid(Path file, String problem) {
        return new IllegalArgumentException(file + ": " + problem);
    }

    static IllegalArgumentException invalidTensor(Path file, String name, String problem) {
        return invalid(file, "tensor '" + name + "' " + problem);
    }
}
