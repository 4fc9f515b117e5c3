package ai.djl.xlstm.io;

import static ai.djl.xlstm.io.HalfFloats.floatToBfloat16;
import static ai.djl.xlstm.io.HalfFloats.floatToHalf;
import static ai.djl.xlstm.io.SafeTensors.CHECKSUM_KEY;
import static ai.djl.xlstm.io.SafeTensors.FORMAT_KEY;
import static ai.djl.xlstm.io.SafeTensors.FORMAT_VERSION;
import static ai.djl.xlstm.io.SafeTensorsHeader.CHECKSUM_FIELD;
import static ai.djl.xlstm.io.SafeTensorsHeader.METADATA_KEY;
import static ai.djl.xlstm.io.SafeTensorsHeader.OUR_KEYS;
import static ai.djl.xlstm.io.SafeTensorsHeader.hex;
import static ai.djl.xlstm.io.SafeTensorsHeader.indexOf;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.xlstm.internal.AtomicFiles;
import ai.djl.xlstm.io.SafeTensors.FloatStorage;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * Writes safetensors files: the header padded to a multiple of 8 bytes, the tensor data (float32
 * narrowed to {@code F16} or {@code BF16} on request), the format and the CRC32C of the whole file in
 * the metadata, and the file published atomically and durably through {@link AtomicFiles}.
 */
final class SafeTensorsWriter {

    private static final String CHECKSUM_PLACEHOLDER = "00000000";

    private SafeTensorsWriter() {}

    /**
     * Writes arrays to a safetensors file with the format and checksum metadata, atomically (see
     * {@link SafeTensors#save(Path, Map, Map, FloatStorage)}).
     */
    static void save(Path file, Map<String, NDArray> tensors, Map<String, String> metadata,
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
                    ByteBuffer data;
                    if (dtype.size == 2 && array.getDataType() == DataType.FLOAT32) {
                        data = narrow(array.toFloatArray(), dtype);
                    } else if (dtype == Dtype.BF16 && array.getDataType() == DataType.FLOAT16) {
                        data = halfToBfloat16(array.toByteBuffer());
                    } else {
                        data = array.toByteBuffer();
                    }
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

    /**
     * The dtype a tensor of {@code dtype} is written as under {@code storage}: float32 narrowed to F16
     * or BF16 on request, float16 kept, or rounded to BF16 on request.
     */
    private static Dtype narrowed(Dtype dtype, FloatStorage storage) {
        if (storage == null || storage == FloatStorage.AS_IS || dtype == Dtype.F16 && storage == FloatStorage.F16) {
            return dtype;
        }
        if (dtype == Dtype.F16) {
            return Dtype.BF16;
        }
        if (dtype != Dtype.F32) {
            return dtype;
        }
        return storage == FloatStorage.F16 ? Dtype.F16 : Dtype.BF16;
    }

    /** float16 bytes (native order) to bfloat16, rounded to nearest even. */
    private static ByteBuffer halfToBfloat16(ByteBuffer half) {
        half.order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer out = ByteBuffer.allocate(half.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        while (half.hasRemaining()) {
            out.putShort(floatToBfloat16(Float.intBitsToFloat(HalfFloats.halfToFloatBits(half.getShort() & 0xFFFF))));
        }
        return out.flip();
    }

    private static ByteBuffer narrow(float[] values, Dtype dtype) {
        ByteBuffer out = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            out.putShort(dtype == Dtype.F16 ? floatToHalf(v) : floatToBfloat16(v));
        }
        return out.flip();
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
}
