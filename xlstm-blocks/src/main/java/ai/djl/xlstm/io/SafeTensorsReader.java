package ai.djl.xlstm.io;

import static ai.djl.xlstm.io.SafeTensors.CHECKSUM_KEY;
import static ai.djl.xlstm.io.SafeTensors.DATA_CHECKSUM_KEY;
import static ai.djl.xlstm.io.SafeTensorsHeader.hex;
import static ai.djl.xlstm.io.SafeTensorsHeader.invalidTensor;
import static ai.djl.xlstm.io.SafeTensorsHeader.openRegular;
import static ai.djl.xlstm.io.SafeTensorsHeader.readFully;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
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
