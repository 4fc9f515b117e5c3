package ai.djl.xlstm.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

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
 *
 * <p>This class is the entry point; the work is done, one job each, by the package's header parser
 * and validator, tensor reader, writer, half-float conversion and checkpoint shard discovery.
 */
public final class SafeTensors {

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
        return SafeTensorsHeader.read(file).tensors();
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
        return SafeTensorsHeader.read(file).metadata();
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
        return SafeTensorsReader.load(file, manager, null);
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
        return CheckpointShards.readCheckpointHeader(dir);
    }

    /**
     * The file of a checkpoint folder that holds tensor {@code name}, found as {@link #loadCheckpoint}
     * finds it (to name it in a message).
     *
     * @throws IllegalArgumentException as {@link #loadCheckpoint}, or if no file holds the tensor
     */
    static Path fileHolding(Path dir, String name) throws IOException {
        return CheckpointShards.fileHolding(dir, name);
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
        return SafeTensorsReader.loadCheckpoint(dir, manager);
    }

    /**
     * Writes arrays to a safetensors file, in the iteration order of {@code tensors}. The header is
     * padded with spaces to a multiple of 8 bytes, as the reference implementation does. The
     * metadata also gets {@link #FORMAT_KEY} and {@link #CHECKSUM_KEY}, the CRC32C of the whole file,
     * which every later load checks: a changed byte, in the data or in the header, is refused instead
     * of loaded as another value.
     *
     * @param file the file to create or replace (atomically: a crash leaves the old file or the new)
     * @param tensors the arrays by name, of type float32, float16 (written as F16), float64, int64,
     *     int32, int8, uint8 or boolean
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
     * As {@link #save(Path, Map, Map)}, storing float32 tensors as {@code storage} says (float16 ones
     * as F16, or rounded to BF16 for {@link FloatStorage#BF16}; other types as they are): half the
     * bytes, read back as float32 by {@link #load}.
     *
     * @param file the file to create or replace (atomically: a crash leaves the old file or the new)
     * @param tensors the arrays by name, of the types {@link #save(Path, Map, Map)} takes
     * @param metadata the string pairs stored as {@code __metadata__}; {@code null} or empty for none
     * @param storage how float32 tensors are stored: as they are, F16 or BF16
     * @throws IOException if the file cannot be written
     * @throws IllegalArgumentException if a name is {@code __metadata__} or an array has another
     *     type
     */
    public static void save(Path file, Map<String, NDArray> tensors, Map<String, String> metadata,
            FloatStorage storage) throws IOException {
        SafeTensorsWriter.save(file, tensors, metadata, storage);
    }

    /** float32 to IEEE binary16, rounded to nearest even; beyond the range, infinity. */
    static short floatToHalf(float value) {
        return HalfFloats.floatToHalf(value);
    }

    /** float32 to bfloat16, rounded to nearest even. */
    static short floatToBfloat16(float value) {
        return HalfFloats.floatToBfloat16(value);
    }
}
