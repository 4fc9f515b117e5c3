package ai.djl.xlstm.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes of
 * JSON ({@code name -> {dtype, shape, data_offsets}} and an optional {@code __metadata__}), then
 * the raw little-endian data.
 *
 * <p>Why not DJL's {@code NDList.decode}: BF16 arrays crash the JVM there (and anywhere they reach
 * the engine), and a hostile file must be rejected before any of its bytes reach native code. So
 * the header is parsed and validated here (sizes, dtypes, shapes, offsets within the file, no
 * overlaps), each tensor is read on its own through a {@link FileChannel} (files may be many GB),
 * and F16/BF16 are widened to float32 in Java. Arrays are returned owning their memory.
 */
public final class SafeTensors {

    private static final long MAX_HEADER = 100L << 20;
    private static final Pattern SHARD = Pattern.compile("model_(\\d+)\\.safetensors");
    private static final Map<String, Integer> DTYPE_BYTES = Map.of(
            "F64", 8, "F32", 4, "F16", 2, "BF16", 2, "I64", 8, "I32", 4, "I16", 2, "I8", 1, "U8", 1, "BOOL", 1);

    private SafeTensors() {}

    /**
     * One tensor's header entry.
     *
     * @param name the tensor name
     * @param dtype the safetensors dtype
     * @param shape the shape
     * @param begin the first byte, relative to the data section
     * @param end one past the last byte
     */
    public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {}

    /** Reads and validates the header of {@code file}; entries in file order. */
    public static Map<String, TensorInfo> readHeader(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return readHeader(ch, file);
        }
    }

    private static Map<String, TensorInfo> readHeader(FileChannel ch, Path file) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw bad(file, "file of " + size + " bytes is too short for a header");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long n = lenBuf.flip().getLong();
        if (n <= 0 || n > MAX_HEADER || 8 + n > size) {
            throw bad(file, "header length " + n + " is invalid for a file of " + size + " bytes");
        }
        ByteBuffer headerBuf = ByteBuffer.allocate((int) n);
        readFully(ch, headerBuf, 8);
        JsonObject header;
        try {
            JsonElement parsed = new Gson().fromJson(new String(headerBuf.array(), StandardCharsets.UTF_8), JsonElement.class);
            if (parsed == null || !parsed.isJsonObject()) {
                throw bad(file, "header is not a JSON object");
            }
            header = parsed.getAsJsonObject();
        } catch (JsonParseException e) {
            throw bad(file, "header is not valid JSON: " + e.getMessage());
        }
        long dataSize = size - 8 - n;
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : header.entrySet()) {
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            out.put(e.getKey(), entry(file, e.getKey(), e.getValue(), dataSize));
        }
        List<TensorInfo> byOffset = new ArrayList<>(out.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin));
        for (int i = 1; i < byOffset.size(); i++) {
            TensorInfo prev = byOffset.get(i - 1);
            TensorInfo cur = byOffset.get(i);
            if (cur.begin() < prev.end()) {
                throw bad(file, "tensors '" + prev.name() + "' and '" + cur.name() + "' overlap");
            }
        }
        return out;
    }

    private static TensorInfo entry(Path file, String name, JsonElement value, long dataSize) {
        if (!value.isJsonObject()) {
            throw bad(file, "tensor '" + name + "': entry is not an object");
        }
        JsonObject o = value.getAsJsonObject();
        JsonElement dt = o.get("dtype");
        String dtype = dt != null && dt.isJsonPrimitive() ? dt.getAsString() : null;
        if (dtype == null || !DTYPE_BYTES.containsKey(dtype)) {
            throw bad(file, "tensor '" + name + "': unsupported dtype " + dt + " (supported: " + new TreeSet<>(DTYPE_BYTES.keySet()) + ")");
        }
        long[] shape = longs(file, name, o.get("shape"), "shape", -1);
        long elements = 1;
        for (long d : shape) {
            if (d < 0) {
                throw bad(file, "tensor '" + name + "': negative dimension in shape");
            }
            elements = Math.multiplyExact(elements, d);
        }
        long[] offsets = longs(file, name, o.get("data_offsets"), "data_offsets", 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin < 0 || end < begin || end > dataSize) {
            throw bad(file, "tensor '" + name + "': data_offsets [" + begin + ", " + end
                    + "] are outside the data section of " + dataSize + " bytes");
        }
        long expected = Math.multiplyExact(elements, DTYPE_BYTES.get(dtype));
        if (end - begin != expected) {
            throw bad(file, "tensor '" + name + "': " + (end - begin) + " bytes of data, but shape "
                    + java.util.Arrays.toString(shape) + " of " + dtype + " needs " + expected);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] longs(Path file, String name, JsonElement e, String field, int length) {
        if (e == null || !e.isJsonArray() || (length >= 0 && e.getAsJsonArray().size() != length)) {
            throw bad(file, "tensor '" + name + "': " + field + " must be an array" + (length >= 0 ? " of " + length + " integers" : " of integers"));
        }
        JsonArray a = e.getAsJsonArray();
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            JsonElement x = a.get(i);
            try {
                out[i] = x.getAsJsonPrimitive().getAsBigDecimal().longValueExact();
            } catch (RuntimeException ex) {
                throw bad(file, "tensor '" + name + "': " + field + " entry " + x + " is not an integer");
            }
        }
        return out;
    }

    /** Reads the {@code __metadata__} strings of {@code file} (empty when absent). */
    public static Map<String, String> readMetadata(Path file) throws IOException {
        readHeader(file); // validates
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            ByteBuffer headerBuf = ByteBuffer.allocate((int) lenBuf.flip().getLong());
            readFully(ch, headerBuf, 8);
            JsonObject header = new Gson().fromJson(new String(headerBuf.array(), StandardCharsets.UTF_8), JsonObject.class);
            Map<String, String> out = new LinkedHashMap<>();
            JsonElement meta = header.get("__metadata__");
            if (meta != null && meta.isJsonObject()) {
                meta.getAsJsonObject().entrySet().forEach(m -> out.put(m.getKey(), m.getValue().getAsString()));
            }
            return out;
        }
    }

    /**
     * Loads every tensor of {@code file} into {@code manager}: F16 and BF16 as float32, I16 as
     * int32, the other dtypes as they are.
     */
    public static Map<String, NDArray> load(Path file, NDManager manager) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Map<String, TensorInfo> header = readHeader(ch, file);
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long dataStart = 8 + lenBuf.flip().getLong();
            Map<String, NDArray> out = new LinkedHashMap<>();
            for (TensorInfo t : header.values()) {
                out.put(t.name(), read(ch, dataStart, t, manager));
            }
            return out;
        }
    }

    private static NDArray read(FileChannel ch, long dataStart, TensorInfo t, NDManager manager) throws IOException {
        int bytes = Math.toIntExact(t.end() - t.begin());
        ByteBuffer raw = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, raw, dataStart + t.begin());
        raw.flip();
        Shape shape = new Shape(t.shape());
        NDArray array;
        switch (t.dtype()) {
            case "BF16":
            case "F16": {
                float[] values = new float[bytes / 2];
                boolean bf16 = t.dtype().equals("BF16");
                for (int i = 0; i < values.length; i++) {
                    short h = raw.getShort();
                    values[i] = bf16 ? Float.intBitsToFloat((h & 0xffff) << 16) : halfToFloat(h);
                }
                array = manager.create(values, shape);
                break;
            }
            case "I16": {
                int[] values = new int[bytes / 2];
                for (int i = 0; i < values.length; i++) {
                    values[i] = raw.getShort();
                }
                array = manager.create(values, shape);
                break;
            }
            default:
                array = manager.create(direct(raw), shape, dataType(t.dtype()));
        }
        // A copy that owns its memory: arrays made from a Java buffer may borrow it.
        NDArray owned = array.duplicate();
        array.close();
        return owned;
    }

    private static ByteBuffer direct(ByteBuffer heap) {
        ByteBuffer d = ByteBuffer.allocateDirect(heap.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        d.put(heap).flip();
        return d;
    }

    private static DataType dataType(String dtype) {
        switch (dtype) {
            case "F64": return DataType.FLOAT64;
            case "F32": return DataType.FLOAT32;
            case "I64": return DataType.INT64;
            case "I32": return DataType.INT32;
            case "I8": return DataType.INT8;
            case "U8": return DataType.UINT8;
            case "BOOL": return DataType.BOOLEAN;
            default: throw new IllegalStateException("unreachable dtype " + dtype);
        }
    }

    /** IEEE 754 half precision to float, with subnormals, infinities and NaN. */
    static float halfToFloat(short half) {
        int h = half & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13)); // inf or NaN
        }
        if (exp == 0) {
            float value = mant * 0x1p-24f; // subnormal (or zero)
            return sign != 0 ? -value : value;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /**
     * Loads a checkpoint folder: the shards a Hugging Face {@code model.safetensors.index.json}
     * names, or {@code model.safetensors}, or {@code model_N.safetensors} shards, or the one
     * {@code *.safetensors} file there is.
     */
    public static Map<String, NDArray> loadCheckpoint(Path dir, NDManager manager) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("checkpoint folder not found: " + dir);
        }
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(index)) {
            return loadIndexed(dir, index, manager);
        }
        Path single = dir.resolve("model.safetensors");
        if (Files.isRegularFile(single)) {
            return load(single, manager);
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).toList();
        }
        List<Path> shards = new ArrayList<>(files.stream()
                .filter(p -> SHARD.matcher(p.getFileName().toString()).matches()).toList());
        shards.sort(Comparator.comparingLong(p -> {
            Matcher m = SHARD.matcher(p.getFileName().toString());
            m.matches();
            return Long.parseLong(m.group(1));
        }));
        if (shards.isEmpty() && files.size() == 1) {
            shards = files;
        }
        if (shards.isEmpty()) {
            throw new IllegalArgumentException("no weights in " + dir + ": expected model.safetensors,"
                    + " model_N.safetensors shards or model.safetensors.index.json");
        }
        Map<String, NDArray> out = new LinkedHashMap<>();
        Map<String, Path> origin = new HashMap<>();
        for (Path shard : shards) {
            for (Map.Entry<String, NDArray> e : load(shard, manager).entrySet()) {
                Path first = origin.putIfAbsent(e.getKey(), shard);
                if (first != null) {
                    throw new IllegalArgumentException("tensor '" + e.getKey() + "' appears in both "
                            + first.getFileName() + " and " + shard.getFileName());
                }
                out.put(e.getKey(), e.getValue());
            }
        }
        return out;
    }

    private static Map<String, NDArray> loadIndexed(Path dir, Path index, NDManager manager) throws IOException {
        JsonObject root;
        try {
            root = new Gson().fromJson(Files.readString(index, StandardCharsets.UTF_8), JsonObject.class);
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(index + " is not valid JSON: " + e.getMessage(), e);
        }
        JsonElement map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isJsonObject()) {
            throw new IllegalArgumentException(index + " has no weight_map object");
        }
        Map<String, List<String>> byShard = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : map.getAsJsonObject().entrySet()) {
            byShard.computeIfAbsent(e.getValue().getAsString(), k -> new ArrayList<>()).add(e.getKey());
        }
        Path base = dir.toAbsolutePath().normalize();
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> e : byShard.entrySet()) {
            Path shard = base.resolve(e.getKey()).normalize();
            if (!shard.startsWith(base) || shard.equals(base)) {
                throw new IllegalArgumentException(index + ": shard path '" + e.getKey() + "' leaves the folder");
            }
            Map<String, NDArray> tensors = load(shard, manager);
            for (String name : e.getValue()) {
                NDArray t = tensors.get(name);
                if (t == null) {
                    throw new IllegalArgumentException(index + " maps '" + name + "' to " + e.getKey() + ", which lacks it");
                }
                out.put(name, t);
            }
        }
        return out;
    }

    /**
     * Writes {@code tensors} (F64, F32, I64, I32, I8, U8, BOOL) in map order with {@code metadata};
     * the header is padded with spaces to a multiple of 8 bytes, as the reference writer does.
     */
    public static void save(Path file, Map<String, NDArray> tensors, Map<String, String> metadata) throws IOException {
        JsonObject header = new JsonObject();
        if (!metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            metadata.forEach(meta::addProperty);
            header.add("__metadata__", meta);
        }
        long offset = 0;
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray a = e.getValue();
            String dtype = dtypeName(e.getKey(), a.getDataType());
            long bytes = a.size() * DTYPE_BYTES.get(dtype);
            JsonObject entry = new JsonObject();
            entry.addProperty("dtype", dtype);
            JsonArray shape = new JsonArray();
            for (long d : a.getShape().getShape()) {
                shape.add(d);
            }
            entry.add("shape", shape);
            JsonArray offsets = new JsonArray();
            offsets.add(offset);
            offsets.add(offset + bytes);
            entry.add("data_offsets", offsets);
            header.add(e.getKey(), entry);
            offset += bytes;
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] headerBytes = java.util.Arrays.copyOf(json, padded);
        java.util.Arrays.fill(headerBytes, json.length, padded, (byte) ' ');
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
            out.write(headerBytes);
            for (NDArray a : tensors.values()) {
                ByteBuffer data = a.toByteBuffer().order(ByteOrder.nativeOrder());
                byte[] chunk = new byte[data.remaining()];
                data.get(chunk);
                out.write(chunk);
            }
        }
    }

    private static String dtypeName(String name, DataType dt) {
        switch (dt) {
            case FLOAT64: return "F64";
            case FLOAT32: return "F32";
            case INT64: return "I64";
            case INT32: return "I32";
            case INT8: return "I8";
            case UINT8: return "U8";
            case BOOLEAN: return "BOOL";
            default: throw new IllegalArgumentException("tensor '" + name + "': cannot write data type " + dt);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    private static IllegalArgumentException bad(Path file, String problem) {
        return new IllegalArgumentException("safetensors file " + file + ": " + problem);
    }
}
