package ai.djl.xlstm.io;

import static ai.djl.xlstm.io.SafeTensors.CHECKSUM_KEY;
import static ai.djl.xlstm.io.SafeTensors.DATA_CHECKSUM_KEY;
import static ai.djl.xlstm.io.SafeTensorsHeader.hex;
import static ai.djl.xlstm.io.SafeTensorsHeader.invalidTensor;
import static ai.djl.xlstm.io.SafeTensorsHeader.openRegular;
import static ai.djl.xlstm.io.SafeTensorsHeader.readFully;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.xlstm.io.SafeTensors.TensorInfo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntUnaryOperator;
import java.util.zip.CRC32C;

/**
 * Reads tensors: a file or a checkpoint folder's shards, tensor by tensor, after the header is
 * validated ({@link SafeTensorsHeader}) and the file checked against its checksum; {@code BF16} and
 * {@code F16} are widened to float32 and {@code I16} to int32 in Java, {@code BOOL} bytes are
 * checked, and each array is copied into memory the engine owns.
 */
final class SafeTensorsReader {

    private static final int CHUNK_BYTES = 1 << 20;
    /** Values per chunk when reading as float16: 4 MiB of float16, a few engine calls per 100 MB. */
    private static final int HALF_CHUNK_VALUES = 1 << 21;

    private SafeTensorsReader() {}

    /** Loads every tensor of a checkpoint folder (see {@link SafeTensors#loadCheckpoint}). */
    static Map<String, NDArray> loadCheckpoint(Path dir, NDManager manager) throws IOException {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        try {
            for (Map.Entry<Path, Collection<String>> shard : CheckpointShards.planCheckpoint(dir).entrySet()) {
                tensors.putAll(load(shard.getKey(), manager, shard.getValue()));
            }
        } catch (IOException | RuntimeException e) {
            closeAll(tensors.values());
            throw e;
        }
        return tensors;
    }

    /** Receives the tensors of {@link #forEachTensor} one at a time. */
    interface TensorSink {
        /**
         * Takes one tensor; it is closed when this returns (keep a copy, not the array).
         *
         * @param name the tensor's name
         * @param array the tensor
         */
        void accept(String name, NDArray array);
    }

    /**
     * Streams every tensor of a checkpoint folder (found as {@link #loadCheckpoint} finds them) to
     * {@code sink}, one at a time, each in its own sub-manager of {@code manager} that is closed as
     * soon as the sink returns: at most one tensor of the checkpoint is held at a time. Each file is
     * checked against its checksum once, before its first tensor. Floating-point tensors arrive as
     * {@code floatType} ({@link DataType#FLOAT32}, or {@link DataType#FLOAT16}: converted in Java,
     * rounded to nearest even, a value beyond float16's range refused), others as {@link #load}
     * gives them.
     */
    static void forEachTensor(Path dir, NDManager manager, DataType floatType, TensorSink sink) throws IOException {
        // One pair of chunk buffers for the whole checkpoint, so that reading leaves no garbage per tensor.
        ByteBuffer[] buffers = floatType == DataType.FLOAT16
                ? new ByteBuffer[] {ByteBuffer.allocate(HALF_CHUNK_VALUES * 8).order(ByteOrder.LITTLE_ENDIAN),
                        ByteBuffer.allocateDirect(HALF_CHUNK_VALUES * 2).order(ByteOrder.nativeOrder())}
                : null;
        for (Map.Entry<Path, Collection<String>> shard : CheckpointShards.planCheckpoint(dir).entrySet()) {
            Path file = shard.getKey();
            try (FileChannel channel = openRegular(file)) {
                SafeTensorsHeader header = SafeTensorsHeader.read(channel, file);
                verifyChecksum(channel, header, file);
                for (String name : shard.getValue()) {
                    TensorInfo info = header.tensors().get(name);
                    if (info == null) {
                        throw invalidTensor(file, name, "is missing");
                    }
                    try (NDManager scope = manager.newSubManager()) {
                        Dtype dtype = Dtype.valueOf(info.dtype());
                        sink.accept(name, buffers != null && dtype.target.isFloating()
                                ? readAsHalf(channel, header.dataStart(), info, dtype, scope, file, buffers)
                                : readTensor(channel, header.dataStart(), info, scope, file));
                    }
                }
            }
        }
    }

    /** Loads the named tensors, or all of them if {@code names} is null. */
    static Map<String, NDArray> load(
            Path file, NDManager manager, Collection<String> names) throws IOException {
        try (FileChannel channel = openRegular(file)) {
            SafeTensorsHeader header = SafeTensorsHeader.read(channel, file);
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

    /**
     * Reads a floating-point tensor (F64, F32, F16 or BF16) as {@link DataType#FLOAT16}, converting in
     * Java chunk by chunk: F16 as is, others rounded to nearest even. BF16 values in float16's normal
     * range (magnitudes 2^-14 to 65504) are exact in float16 (8 significant bits of 11); a finite
     * value beyond 65504 is refused rather than turned into infinity.
     */
    private static NDArray readAsHalf(FileChannel channel, long dataStart, TensorInfo info, Dtype dtype,
            NDManager manager, Path file, ByteBuffer[] buffers) throws IOException {
        long length = info.end() - info.begin();
        long count = length / dtype.size;
        // The array is filled a chunk at a time, so that no second copy of the tensor (a Java buffer
        // the engine may wrap, then its duplicate) is ever held: what loading needs beyond the model
        // is the tensor itself and one chunk.
        NDArray array = manager.zeros(new Shape(info.shape()), DataType.FLOAT16);
        array.setName(info.name());
        if (count == 0) {
            return array;
        }
        int chunkValues = (int) Math.min(count, HALF_CHUNK_VALUES);
        ByteBuffer chunk = buffers[0];
        ByteBuffer half = buffers[1];
        long position = dataStart + info.begin();
        short[] out = new short[chunkValues];
        try (NDArray flat = array.reshape(-1)) {
            for (long done = 0; done < count; done += chunkValues) {
                int n = (int) Math.min(chunkValues, count - done);
                chunk.clear().limit(n * dtype.size);
                readFully(channel, chunk, position + done * dtype.size, file);
                chunk.flip();
                toHalves(chunk, dtype, n, out, info, file);
                half.clear();
                half.asShortBuffer().put(out, 0, n);
                half.limit(n * 2);
                try (NDArray part = manager.create(half, new Shape(n), DataType.FLOAT16)) {
                    flat.set(new NDIndex().addSliceDim(done, done + n), part); // copies into the tensor
                }
            }
        } catch (IOException | RuntimeException e) {
            array.close();
            throw e;
        }
        return array;
    }

    /**
     * The {@code n} values of {@code chunk} (little-endian, of {@code dtype}) as float16 bits into
     * {@code out}, in bulk over arrays (a value at a time through the buffer took ~33 ns, 40 s for
     * the 1.2B values of the 7B slice); a finite value beyond float16's range is refused.
     */
    private static void toHalves(ByteBuffer chunk, Dtype dtype, int n, short[] out, TensorInfo info, Path file) {
        switch (dtype) {
            case F16 -> chunk.asShortBuffer().get(out, 0, n);
            case BF16 -> {
                chunk.asShortBuffer().get(out, 0, n);
                for (int i = 0; i < n; i++) {
                    out[i] = checkedHalf(Float.intBitsToFloat((out[i] & 0xFFFF) << 16), info, file);
                }
            }
            case F32 -> {
                float[] values = new float[n];
                chunk.asFloatBuffer().get(values, 0, n);
                for (int i = 0; i < n; i++) {
                    out[i] = checkedHalf(values[i], info, file);
                }
            }
            default -> { // F64
                double[] values = new double[n];
                chunk.asDoubleBuffer().get(values, 0, n);
                for (int i = 0; i < n; i++) {
                    out[i] = checkedHalf((float) values[i], info, file);
                }
            }
        }
    }

    /** {@code v} as float16 bits; a finite value beyond float16's range is refused. */
    private static short checkedHalf(float v, TensorInfo info, Path file) {
        short half = HalfFloats.floatToHalf(v);
        if ((half & 0x7C00) == 0x7C00 && Float.isFinite(v)) {
            throw invalidTensor(file, info.name(), "holds " + v + ", beyond the range of float16 (65504);"
                    + " load this checkpoint with float32 weights");
        }
        return half;
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

    private static void requireBooleans(ByteBuffer data, String name, Path file) {
        for (int i = data.position(); i < data.limit(); i++) {
            if ((data.get(i) & 0xFF) > 1) {
                throw invalidTensor(file, name, "holds a BOOL byte other than 0 or 1");
            }
        }
    }

    /**
     * Checks the file against its checksum: the whole file against {@link SafeTensors#CHECKSUM_KEY} (with its
     * digits read as {@code 0}s), or the tensor data against {@link SafeTensors#DATA_CHECKSUM_KEY} in a file of
     * format 1; files of other writers have neither and are read as they are.
     */
    private static void verifyChecksum(FileChannel channel, SafeTensorsHeader header, Path file) throws IOException {
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

    private static void closeAll(Collection<NDArray> arrays) {
        arrays.forEach(NDArray::close);
    }
}
