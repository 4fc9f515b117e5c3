package ai.djl.xlstm.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

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
import java.nio.IntBuffer;
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
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.IntUnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * Reads and writes tensors in the
 * <a href="https://github.com/huggingface/safetensors">safetensors</a> format: an 8-byte
 * little-endian header length {@code N}, {@code N} bytes of UTF-8 JSON mapping each tensor name to
 * its {@code dtype}, {@code shape} and {@code data_offsets} (relative to byte {@code 8 + N}), then
 * the raw little-endian tensor data.
 *
 * <p>DJL's {@code NDList.decode} is deliberately not used: it hands {@code BF16} buffers to the
 * engine, which crashes the JVM, and it trusts the header. This reader validates every header
 * field before any byte reaches native code, converts {@code BF16} and {@code F16} to {@code
 * float32} and {@code I16} to {@code int32} in Java (the PyTorch engine aborts on {@code BFLOAT16}
 * and {@code INT16} arrays), and streams the file tensor by tensor, so multi-gigabyte checkpoints
 * are never held in one Java array. A little-endian host is assumed, as for every PyTorch
 * platform.
 *
 * <p>As the reference reader, it requires the tensors to cover the data section exactly (no gap, no
 * overlap, nothing after the last tensor). Files written by {@link #save} carry {@link #FORMAT_KEY}
 * and {@link #CHECKSUM_KEY}, a CRC32C of the whole file checked on every load; see {@link
 * #CHECKSUM_KEY} and {@link #DATA_CHECKSUM_KEY} for how files of this library, old and new, and of
 * other writers are told apart.
 */
public final class SafeTensors {

    private static final String INDEX_FILE = "model.safetensors.index.json";
    private static final String SINGLE_FILE = "model.safetensors";
    private static final String EXTENSION = ".safetensors";
    private static final Pattern NUMBERED_SHARD = Pattern.compile("model_(\\d{1,9})\\.safetensors");
    private static final String METADATA_KEY = "__metadata__";
    /**
     * The metadata key under which {@link #save} records the version of this library's file layout,
     * {@value #FORMAT_VERSION}: the file carries {@link #CHECKSUM_KEY}. A file with any metadata key
     * of this library's ({@code xlstm.*}) must carry a valid checksum, or it is refused.
     */
    public static final String FORMAT_KEY = "xlstm.format";
    /** The value of {@link #FORMAT_KEY} in the files {@link #save} writes. */
    public static final String FORMAT_VERSION = "2";
    /**
     * The metadata key under which {@link #save} stores the CRC32C of the whole file (8 lowercase hex
     * digits), computed with these 8 digits read as {@code 0}s: the length prefix, the header (names,
     * dtypes, shapes, offsets, metadata) and the data. Every load checks it.
     */
    public static final String CHECKSUM_KEY = "xlstm.crc32c";
    /**
     * The metadata key of format 1 (files written before {@link #FORMAT_KEY}): the CRC32C of the tensor
     * data alone. Such files still load, checked against it; their header is not covered (saving them
     * again writes format {@value #FORMAT_VERSION}).
     */
    public static final String DATA_CHECKSUM_KEY = "xlstm.data_crc32c";
    private static final String OUR_PREFIX = "xlstm.";
    private static final List<String> OUR_KEYS = List.of(FORMAT_KEY, CHECKSUM_KEY, DATA_CHECKSUM_KEY);
    private static final String CHECKSUM_PLACEHOLDER = "00000000";
    private static final Pattern HEX8 = Pattern.compile("[0-9a-f]{8}");
    /** How the checksum appears in a header written by {@link #save}: the one place it is looked for. */
    private static final byte[] CHECKSUM_FIELD = ("\"" + CHECKSUM_KEY + "\":\"").getBytes(StandardCharsets.US_ASCII);
    private static final long MAX_HEADER_BYTES = 100L << 20;
    private static final int CHUNK_BYTES = 1 << 20;

    private SafeTensors() {}

    /**
     * The header entry of one tensor.
     *
     * @param name the tensor name
     * @param dtype the safetensors dtype, such as {@code "F32"} or {@code "BF16"}
     * @param shape the dimensions; empty for a scalar
     * @param begin the first data byte, relative to the start of the data section
     * @param end the byte after the last data byte, relative to the start of the data section
     */
    public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {

        /**
         * Returns a copy of the dimensions.
         *
         * @return the dimensions; empty for a scalar
         */
        @Override
        public long[] shape() {
            return shape.clone();
        }
    }

    /**
     * Reads and validates the header of a safetensors file.
     *
     * @param file the safetensors file
     * @return the tensor entries in file order, without {@code __metadata__}
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if the header is malformed (a key that appears twice in one
     *     JSON object included); the message names the file, the tensor and the problem
     */
    public static Map<String, TensorInfo> readHeader(Path file) throws IOException {
        try (FileChannel channel = openRegular(file)) {
            return readHeader(channel, file).tensors();
        }
    }

    /**
     * Reads the {@code __metadata__} string pairs of a safetensors file (after validating the
     * whole header).
     *
     * @param file the safetensors file
     * @return the metadata in file order; empty when the file has none
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if the header is malformed
     */
    public static Map<String, String> readMetadata(Path file) throws IOException {
        try (FileChannel channel = openRegular(file)) {
            return readHeader(channel, file).metadata();
        }
    }

    /**
     * Loads every tensor of a safetensors file. {@code BF16} and {@code F16} tensors become {@code
     * float32}, {@code I16} tensors become {@code int32}; all others keep their type.
     *
     * @param file the safetensors file
     * @param manager the manager that will own the arrays
     * @return the arrays by name, in file order
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if the file is malformed
     */
    public static Map<String, NDArray> load(Path file, NDManager manager) throws IOException {
        return load(file, manager, null);
    }

    /**
     * The header entries of every tensor of a checkpoint folder, found as {@link #loadCheckpoint}
     * finds them, without reading any tensor data (to check a checkpoint before allocating a model
     * for it).
     *
     * @param dir the checkpoint folder
     * @return the tensor entries by name
     * @throws IOException if a file cannot be read
     * @throws IllegalArgumentException as {@link #loadCheckpoint}
     */
    public static Map<String, TensorInfo> readCheckpointHeader(Path dir) throws IOException {
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        for (Map.Entry<Path, Collection<String>> shard : planCheckpoint(dir).entrySet()) {
            Map<String, TensorInfo> header = readHeader(shard.getKey());
            for (String name : shard.getValue()) {
                out.put(name, header.get(name));
            }
        }
        return out;
    }

    /**
     * The file of a checkpoint folder that holds tensor {@code name}, found as {@link #loadCheckpoint}
     * finds it (to name it in a message).
     *
     * @throws IllegalArgumentException as {@link #loadCheckpoint}, or if no file holds the tensor
     */
    static Path fileHolding(Path dir, String name) throws IOException {
        for (Map.Entry<Path, Collection<String>> shard : planCheckpoint(dir).entrySet()) {
            if (shard.getValue().contains(name)) {
                return shard.getKey();
            }
        }
        throw invalid(dir, "no file of the checkpoint holds tensor '" + name + "'");
    }

    /**
     * Loads every tensor of a checkpoint folder. The folder holds, in order of precedence, a
     * {@code model.safetensors.index.json} whose {@code weight_map} names the shard of each
     * tensor, a {@code model.safetensors}, shards {@code model_0.safetensors}, {@code
     * model_1.safetensors}, ... (loaded in numeric order), or exactly one other {@code
     * *.safetensors} file.
     *
     * @param dir the checkpoint folder
     * @param manager the manager that will own the arrays
     * @return the arrays by name
     * @throws IOException if a file cannot be read
     * @throws IllegalArgumentException if no checkpoint is found, a file is malformed, the index
     *     names a tensor missing from its shard or a shard outside the folder, or a tensor appears
     *     in two shards
     */
    public static Map<String, NDArray> loadCheckpoint(Path dir, NDManager manager)
            throws IOException {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        try {
            for (Map.Entry<Path, Collection<String>> shard : planCheckpoint(dir).entrySet()) {
                tensors.putAll(load(shard.getKey(), manager, shard.getValue()));
            }
        } catch (IOException | RuntimeException e) {
            closeAll(tensors.values());
            throw e;
        }
        return tensors;
    }

    /**
     * Writes arrays to a safetensors file, in the iteration order of {@code tensors}. The header is
     * padded with spaces to a multiple of 8 bytes, as the reference implementation does. The
     * metadata also gets {@link #FORMAT_KEY} and {@link #CHECKSUM_KEY}, the CRC32C of the whole file,
     * which every later load checks: a changed byte, in the data or in the header, is refused instead
     * of loaded as another value.
     *
     * @param file the file to create or replace (atomically: a crash leaves the old file or the new)
     * @param tensors the arrays by name, of type float32, float64, int64, int32, int8, uint8 or
     *     boolean
     * @param metadata the string pairs stored as {@code __metadata__} (after the format and checksum,
     *     which replace any {@link #FORMAT_KEY}, {@link #CHECKSUM_KEY} or {@link #DATA_CHECKSUM_KEY}
     *     given, as in metadata read from another file); {@code null} or empty for none
     * @throws IOException if the file cannot be written
     * @throws IllegalArgumentException if a name is {@code __metadata__} or an array has another
     *     type
     */
    public static void save(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
            throws IOException {
        save(file, tensors, metadata, FloatStorage.AS_IS);
    }

    /** How {@link #save(Path, Map, Map, FloatStorage)} stores float32 tensors. */
    public enum FloatStorage {
        /** As they are. */
        AS_IS,
        /** As IEEE half precision, rounded to nearest even (overflow becomes infinity). */
        F16,
        /** As bfloat16, rounded to nearest even. */
        BF16
    }

    /**
     * As {@link #save(Path, Map, Map)}, storing float32 tensors as {@code storage} says (other types
     * as they are): half the bytes, read back as float32 by {@link #load}.
     */
    public static void save(Path file, Map<String, NDArray> tensors, Map<String, String> metadata,
            FloatStorage storage) throws IOException {
        JsonObject header = new JsonObject();
        JsonObject entries = new JsonObject();
        entries.addProperty(FORMAT_KEY, FORMAT_VERSION);
        entries.addProperty(CHECKSUM_KEY, CHECKSUM_PLACEHOLDER); // filled in once the file is written
        if (metadata != null) {
            metadata.forEach((key, value) -> {
                if (!OUR_KEYS.contains(key)) {
                    entries.addProperty(key, value);
                }
            });
        }
        header.add(METADATA_KEY, entries);
        long offset = 0;
        for (Map.Entry<String, NDArray> tensor : tensors.entrySet()) {
            String name = tensor.getKey();
            NDArray array = tensor.getValue();
            if (METADATA_KEY.equals(name)) {
                throw new IllegalArgumentException(
                        "The tensor name " + METADATA_KEY + " is reserved");
            }
            Dtype dtype = narrowed(Dtype.of(array.getDataType(), name), storage);
            long length = array.size() * dtype.size;
            JsonObject entry = new JsonObject();
            entry.addProperty("dtype", dtype.name());
            entry.add("shape", toJson(array.getShape().getShape()));
            entry.add("data_offsets", toJson(offset, offset + length));
            header.add(name, entry);
            offset += length;
        }

        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        // the metadata comes first in the header and the checksum second in it: the first occurrence
        long checksumAt = 8 + indexOf(json, CHECKSUM_FIELD) + CHECKSUM_FIELD.length;
        int paddedLength = (json.length + 7) / 8 * 8;
        ByteBuffer prefix = ByteBuffer.allocate(8 + paddedLength).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(paddedLength).put(json);
        while (prefix.hasRemaining()) {
            prefix.put((byte) ' ');
        }
        prefix.flip();
        // written beside the target, then renamed over it: a crash leaves the old file or the new
        Path tmp = AtomicFiles.temporaryBeside(file);
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                CRC32C crc = new CRC32C();
                crc.update(prefix.duplicate()); // with the placeholder: the checksum reads its digits as 0s
                writeFully(channel, prefix);
                for (NDArray array : tensors.values()) {
                    Dtype dtype = narrowed(Dtype.of(array.getDataType(), ""), storage);
                    ByteBuffer data = dtype.size == 2 && array.getDataType() == DataType.FLOAT32
                            ? narrow(array.toFloatArray(), dtype) : array.toByteBuffer();
                    crc.update(data.duplicate());
                    writeFully(channel, data);
                }
                ByteBuffer checksum = ByteBuffer.wrap(hex(crc.getValue()).getBytes(StandardCharsets.US_ASCII));
                while (checksum.hasRemaining()) {
                    channel.write(checksum, checksumAt + checksum.position());
                }
                AtomicFiles.force(channel, tmp); // on the disk before the rename names it
            }
            AtomicFiles.move(tmp, file);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The supported safetensors dtypes, with the DJL type each one is loaded as. */
    private enum Dtype {
        F64(8, DataType.FLOAT64, null),
        F32(4, DataType.FLOAT32, null),
        F16(2, DataType.FLOAT32, SafeTensors::halfToFloatBits),
        BF16(2, DataType.FLOAT32, bits -> bits << 16),
        I64(8, DataType.INT64, null),
        I32(4, DataType.INT32, null),
        I16(2, DataType.INT32, bits -> (short) bits),
        I8(1, DataType.INT8, null),
        U8(1, DataType.UINT8, null),
        BOOL(1, DataType.BOOLEAN, null);

        final int size;
        final DataType target;
        /** Maps a 16-bit value to the bits of its 32-bit target, or null to copy bytes as is. */
        final IntUnaryOperator widen;

        Dtype(int size, DataType target, IntUnaryOperator widen) {
            this.size = size;
            this.target = target;
            this.widen = widen;
        }

        static Dtype parse(String name) {
            for (Dtype dtype : values()) {
                if (dtype.name().equals(name)) {
                    return dtype;
                }
            }
            return null;
        }

        static Dtype of(DataType type, String tensor) {
            for (Dtype dtype : values()) {
                if (dtype.widen == null && dtype.target == type) {
                    return dtype;
                }
            }
            throw new IllegalArgumentException(
                    "Cannot save tensor '" + tensor + "' of type " + type
                            + "; supported: float32, float64, int64, int32, int8, uint8, boolean");
        }
    }

    /**
     * A validated header.
     *
     * @param checksumAt where the 8 hex digits of {@link #CHECKSUM_KEY} lie in the file; -1 for a file
     *     without it
     */
    private record Header(Map<String, TensorInfo> tensors, Map<String, String> metadata, long dataStart,
            long checksumAt) {}

    private record Parsed(Map<String, TensorInfo> tensors, Map<String, String> metadata) {}

    private static Header readHeader(FileChannel channel, Path file) throws IOException {
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
        return new Header(parsed.tensors(), parsed.metadata(), dataStart, checksumAt < 0 ? -1 : 8 + checksumAt);
    }

    private static Parsed parseHeader(String json, long dataSize, Path file) {
        JsonElement root = parseJson(json, file);
        if (!root.isJsonObject()) {
            throw invalid(file, "header JSON must be an object");
        }
        requireUniqueKeys(json, file, SafeTensors::duplicateInHeader);
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

    private static Map<String, String> requireStringMap(JsonElement value, String what, Path file) {
        if (!value.isJsonObject()
                || !value.getAsJsonObject().asMap().values().stream()
                        .allMatch(SafeTensors::isString)) {
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

    private static JsonElement parseJson(String json, Path file) {
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
    private static void requireUniqueKeys(
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

    /** Names a key of a checkpoint index that appears twice (see {@link #requireUniqueKeys}). */
    private static String duplicateInIndex(List<String> path) {
        if (path.size() == 2 && "weight_map".equals(path.get(0))) {
            return "tensor '" + path.get(1) + "' appears twice in weight_map";
        }
        return "key '" + String.join(".", path) + "' appears twice";
    }

    /** Loads the named tensors, or all of them if {@code names} is null. */
    private static Map<String, NDArray> load(
            Path file, NDManager manager, Collection<String> names) throws IOException {
        try (FileChannel channel = openRegular(file)) {
            Header header = readHeader(channel, file);
            verifyChecksum(channel, header, file);
            Map<String, NDArray> arrays = new LinkedHashMap<>();
            try {
                for (String name : names == null ? header.tensors().keySet() : names) {
                    TensorInfo info = header.tensors().get(name);
                    if (info == null) {
                        throw invalidTensor(file, name, "is missing");
                    }
                    arrays.put(name, readTensor(channel, header.dataStart(), info, manager, file));
                }
            } catch (IOException | RuntimeException e) {
                closeAll(arrays.values());
                throw e;
            }
            return arrays;
        }
    }

    private static NDArray readTensor(
            FileChannel channel, long dataStart, TensorInfo info, NDManager manager, Path file)
            throws IOException {
        Dtype dtype = Dtype.valueOf(info.dtype());
        long length = info.end() - info.begin();
        long targetLength = length / dtype.size * dtype.target.getNumOfBytes();
        if (targetLength > Integer.MAX_VALUE) {
            throw invalidTensor(
                    file,
                    info.name(),
                    "needs " + targetLength + " bytes, more than one array can hold");
        }
        ByteBuffer data = manager.allocateDirect((int) targetLength).order(ByteOrder.nativeOrder());
        long position = dataStart + info.begin();
        if (dtype.widen != null) {
            widen(channel, position, length, dtype.widen, data.asIntBuffer(), file);
        } else {
            readFully(channel, data, position, file);
            data.flip();
            if (dtype == Dtype.BOOL) {
                requireBooleans(data, info.name(), file);
            }
        }
        // The engine may wrap the Java buffer without copying; a view or type conversion of such an
        // array would then outlive the buffer it borrows. duplicate() gives native-owned memory.
        try (NDArray borrowed = manager.create(data, new Shape(info.shape()), dtype.target)) {
            NDArray array = borrowed.duplicate();
            array.setName(info.name());
            return array;
        }
    }

    /** Reads {@code length} bytes of 16-bit values in chunks and writes them widened to 32 bits. */
    private static void widen(
            FileChannel channel,
            long position,
            long length,
            IntUnaryOperator widen,
            IntBuffer target,
            Path file)
            throws IOException {
        ByteBuffer chunk =
                ByteBuffer.allocate((int) Math.min(length, CHUNK_BYTES))
                        .order(ByteOrder.LITTLE_ENDIAN);
        for (long done = 0; done < length; done += chunk.limit()) {
            chunk.clear().limit((int) Math.min(chunk.capacity(), length - done));
            readFully(channel, chunk, position + done, file);
            chunk.flip();
            while (chunk.hasRemaining()) {
                target.put(widen.applyAsInt(chunk.getShort() & 0xFFFF));
            }
        }
    }

    /** The dtype a tensor of {@code dtype} is written as under {@code storage}. */
    private static Dtype narrowed(Dtype dtype, FloatStorage storage) {
        if (dtype != Dtype.F32 || storage == null || storage == FloatStorage.AS_IS) {
            return dtype;
        }
        return storage == FloatStorage.F16 ? Dtype.F16 : Dtype.BF16;
    }

    private static ByteBuffer narrow(float[] values, Dtype dtype) {
        ByteBuffer out = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            out.putShort(dtype == Dtype.F16 ? floatToHalf(v) : floatToBfloat16(v));
        }
        return out.flip();
    }

    /** float32 to IEEE binary16, rounded to nearest even; beyond the range, infinity. */
    static short floatToHalf(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = (bits >>> 23) & 0xFF;
        int mantissa = bits & 0x7FFFFF;
        if (exponent == 0xFF) { // infinity or NaN (a quiet NaN stays a NaN)
            return (short) (sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0));
        }
        int e = exponent - 127 + 15;
        if (e >= 0x1F) {
            return (short) (sign | 0x7C00);
        }
        if (e <= 0) { // a subnormal half, or zero
            if (e < -10) {
                return (short) sign;
            }
            int m = mantissa | 0x800000;
            int shift = 14 - e;
            int half = m >> shift;
            int rest = m & ((1 << shift) - 1);
            int halfway = 1 << (shift - 1);
            if (rest > halfway || (rest == halfway && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        int out = sign | (e << 10) | (mantissa >> 13);
        int rest = mantissa & 0x1FFF;
        if (rest > 0x1000 || (rest == 0x1000 && (out & 1) != 0)) {
            out++; // a carry into the exponent is right, up to infinity
        }
        return (short) out;
    }

    /** float32 to bfloat16, rounded to nearest even. */
    static short floatToBfloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** Converts IEEE 754 half-precision bits to single-precision bits. */
    private static int halfToFloatBits(int half) {
        int sign = (half & 0x8000) << 16;
        int exponent = (half >>> 10) & 0x1F;
        int mantissa = half & 0x3FF;
        if (exponent == 0x1F) { // infinity or NaN, keeping the NaN payload
            return sign | 0x7F800000 | mantissa << 13;
        }
        if (exponent == 0) { // zero or subnormal: mantissa * 2^-24, exact in float
            return sign | Float.floatToRawIntBits(mantissa * 0x1p-24f);
        }
        return sign | (exponent + 127 - 15) << 23 | mantissa << 13;
    }

    private static void requireBooleans(ByteBuffer data, String name, Path file) {
        for (int i = data.position(); i < data.limit(); i++) {
            if ((data.get(i) & 0xFF) > 1) {
                throw invalidTensor(file, name, "holds a BOOL byte other than 0 or 1");
            }
        }
    }

    /** Lists the shards to load with the tensor names wanted from each, after checking them. */
    private static Map<Path, Collection<String>> planCheckpoint(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(dir + ": not a checkpoint folder");
        }
        Path index = dir.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return planFromIndex(dir, index);
        }
        Map<Path, Collection<String>> plan = new LinkedHashMap<>();
        Map<String, Path> owners = new HashMap<>();
        for (Path shard : findShards(dir)) {
            Collection<String> names = readHeader(shard).keySet();
            for (String name : names) {
                Path owner = owners.putIfAbsent(name, shard);
                if (owner != null) {
                    throw invalid(
                            dir,
                            "tensor '" + name + "' appears in both " + owner.getFileName()
                                    + " and " + shard.getFileName());
                }
            }
            plan.put(shard, names);
        }
        return plan;
    }

    private static Map<Path, Collection<String>> planFromIndex(Path dir, Path index)
            throws IOException {
        if (Files.size(index) > MAX_HEADER_BYTES) {
            throw invalid(index, "index is larger than " + MAX_HEADER_BYTES + " bytes");
        }
        String json;
        try {
            json = Files.readString(index, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw invalid(index, "not UTF-8 JSON (a Hugging Face " + INDEX_FILE + " is UTF-8 text)");
        }
        JsonElement root = parseJson(json, index);
        JsonElement weightMap =
                root.isJsonObject() ? root.getAsJsonObject().get("weight_map") : null;
        if (weightMap == null) {
            throw invalid(index, "index has no weight_map object");
        }
        requireUniqueKeys(json, index, SafeTensors::duplicateInIndex);
        Path folder = dir.toAbsolutePath().normalize();
        Map<Path, Collection<String>> plan = new LinkedHashMap<>();
        Map<String, String> shardByName = requireStringMap(weightMap, "weight_map", index);
        for (Map.Entry<String, String> entry : shardByName.entrySet()) {
            Path shard = folder.resolve(entry.getValue()).normalize();
            if (!shard.startsWith(folder) || shard.equals(folder)) {
                throw invalidTensor(
                        index,
                        entry.getKey(),
                        "is mapped to shard '" + entry.getValue() + "' outside the folder");
            }
            if (!Files.isRegularFile(shard)) {
                throw invalidTensor(
                        index,
                        entry.getKey(),
                        "is mapped to shard '" + entry.getValue() + "', which "
                                + (Files.exists(shard) ? "is not a regular file (a folder, pipe or device)"
                                        : "does not exist"));
            }
            plan.computeIfAbsent(shard, s -> new ArrayList<>()).add(entry.getKey());
        }
        for (Map.Entry<Path, Collection<String>> shard : plan.entrySet()) {
            Map<String, TensorInfo> header = readHeader(shard.getKey());
            for (String name : shard.getValue()) {
                if (!header.containsKey(name)) {
                    throw invalidTensor(
                            shard.getKey(), name, "listed in " + INDEX_FILE + " is missing");
                }
            }
        }
        return plan;
    }

    private static List<Path> findShards(Path dir) throws IOException {
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return List.of(single);
        }
        List<Path> candidates;
        try (Stream<Path> files = Files.list(dir)) {
            candidates =
                    files.filter(p -> p.getFileName().toString().endsWith(EXTENSION))
                            .filter(Files::isRegularFile)
                            .sorted()
                            .toList();
        }
        List<Path> numbered =
                candidates.stream()
                        .filter(p -> shardNumber(p) >= 0)
                        .sorted(Comparator.comparingInt(SafeTensors::shardNumber))
                        .toList();
        if (!numbered.isEmpty()) {
            return numbered;
        }
        if (candidates.size() == 1) {
            return candidates;
        }
        String wanted =
                INDEX_FILE + ", " + SINGLE_FILE + ", model_N" + EXTENSION
                        + " shards or a single *" + EXTENSION + " file";
        if (candidates.isEmpty()) {
            throw invalid(dir, "no checkpoint found; looked for " + wanted);
        }
        List<Path> names = candidates.stream().map(Path::getFileName).toList();
        throw invalid(dir, "cannot choose among " + names + "; expected " + wanted);
    }

    /** Returns N for a file named {@code model_N.safetensors}, or -1. */
    private static int shardNumber(Path file) {
        Matcher matcher = NUMBERED_SHARD.matcher(file.getFileName().toString());
        return matcher.matches() ? Integer.parseInt(matcher.group(1)) : -1;
    }

    /**
     * Where the 8 hex digits of {@link #CHECKSUM_KEY} lie in the header bytes ({@code header}), or -1
     * for a file without it, after checking what the metadata says about the file's writer:
     *
     * <ul>
     *   <li>{@link #CHECKSUM_KEY} (format {@value #FORMAT_VERSION}): it must appear once, written as
     *       {@link #save} writes it, and {@link #FORMAT_KEY}, if present, must be {@value
     *       #FORMAT_VERSION};
     *   <li>{@link #DATA_CHECKSUM_KEY} alone (format 1, written before {@link #FORMAT_KEY}): checked on
     *       load against the data;
     *   <li>no checksum: refused if any metadata key is one of this library's ({@code xlstm.*}, or one
     *       bit away from {@link #FORMAT_KEY}, {@link #CHECKSUM_KEY} or {@link #DATA_CHECKSUM_KEY}),
     *       since our files always carry one, so the key or its checksum was damaged; files of other
     *       writers are read as they are.
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
        List<String> ours = metadata.keySet().stream().filter(SafeTensors::isOurKey).toList();
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

    /**
     * Checks the file against its checksum: the whole file against {@link #CHECKSUM_KEY} (with its
     * digits read as {@code 0}s), or the tensor data against {@link #DATA_CHECKSUM_KEY} in a file of
     * format 1; files of other writers have neither and are read as they are.
     */
    private static void verifyChecksum(FileChannel channel, Header header, Path file) throws IOException {
        String saved;
        String actual;
        String what;
        if (header.checksumAt() >= 0) {
            saved = header.metadata().get(CHECKSUM_KEY);
            actual = crc32c(channel, 0, channel.size(), header.checksumAt(), file);
            what = "its bytes (header or data) do not match the checksum saved in it (" + CHECKSUM_KEY;
        } else if (header.metadata().containsKey(DATA_CHECKSUM_KEY)) {
            saved = header.metadata().get(DATA_CHECKSUM_KEY);
            long end = header.tensors().values().stream().mapToLong(TensorInfo::end).max().orElse(0);
            actual = crc32c(channel, header.dataStart(), header.dataStart() + end, -1, file);
            what = "its tensor data do not match the checksum saved with them (" + DATA_CHECKSUM_KEY;
        } else {
            return;
        }
        if (!actual.equals(saved)) {
            throw new IllegalArgumentException(file + " is corrupted: " + what + " " + saved + ", the file gives "
                    + actual + "); restore it from a good copy");
        }
    }

    /** The CRC32C of bytes {@code [from, to)}, the 8 bytes at {@code blankAt} read as {@code '0'}. */
    private static String crc32c(FileChannel channel, long from, long to, long blankAt, Path file)
            throws IOException {
        CRC32C crc = new CRC32C();
        ByteBuffer chunk = ByteBuffer.allocateDirect((int) Math.min(CHUNK_BYTES, Math.max(1, to - from)));
        for (long at = from; at < to; at += chunk.limit()) {
            chunk.clear().limit((int) Math.min(chunk.capacity(), to - at));
            readFully(channel, chunk, at, file);
            if (blankAt >= 0) {
                for (long i = Math.max(at, blankAt); i < Math.min(at + chunk.limit(), blankAt + 8); i++) {
                    chunk.put((int) (i - at), (byte) '0');
                }
            }
            chunk.flip();
            crc.update(chunk);
        }
        return hex(crc.getValue());
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

    private static int indexOf(byte[] bytes, byte[] pattern) {
        return indexOf(bytes, pattern, 0);
    }

    /**
     * Opens a file for reading, refusing anything but a regular file: a FIFO would block the open
     * until some process writes to it.
     */
    private static FileChannel openRegular(Path file) throws IOException {
        if (Files.exists(file) && !Files.isRegularFile(file)) {
            throw invalid(file, "not a regular file (a folder, pipe or device); expected a safetensors file");
        }
        return FileChannel.open(file, StandardOpenOption.READ);
    }

    private static String hex(long crc32c) {
        return String.format(Locale.ROOT, "%08x", crc32c);
    }

    private static void readFully(FileChannel channel, ByteBuffer target, long position, Path file)
            throws IOException {
        while (target.hasRemaining()) {
            int read = channel.read(target, position);
            if (read < 0) {
                throw new EOFException(file + ": file ended early; was it changed while loading?");
            }
            position += read;
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer source) throws IOException {
        while (source.hasRemaining()) {
            channel.write(source);
        }
    }

    private static JsonArray toJson(long... values) {
        JsonArray array = new JsonArray(values.length);
        for (long value : values) {
            array.add(value);
        }
        return array;
    }

    private static void closeAll(Collection<NDArray> arrays) {
        arrays.forEach(NDArray::close);
    }

    private static IllegalArgumentException invalid(Path file, String problem) {
        return new IllegalArgumentException(file + ": " + problem);
    }

    private static IllegalArgumentException invalidTensor(Path file, String name, String problem) {
        return invalid(file, "tensor '" + name + "' " + problem);
    }
}
