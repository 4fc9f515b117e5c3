package ai.djl.xlstm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** The safetensors reader: round trips, half precision, and hostile files. */
class SafeTensorsTest {

    /** A file with the given JSON header and data bytes. */
    private static Path raw(Path dir, String name, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path file = dir.resolve(name);
        Files.write(file, b.array());
        return file;
    }

    @Test
    void roundTripsAndConvertsHalfPrecision(@TempDir Path dir) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> t = new LinkedHashMap<>();
            t.put("f", m.create(new float[] {1.5f, -2f, 3.25f, 0f, 7f, 8f}, new Shape(2, 3)));
            t.put("i", m.create(new long[] {1, -5, 1L << 40}));
            t.put("empty", m.zeros(new Shape(0, 4)));
            Path file = dir.resolve("a.safetensors");
            SafeTensors.save(file, t, Map.of("k", "v"));
            Map<String, NDArray> back = SafeTensors.load(file, m);
            assertEquals(new Shape(2, 3), back.get("f").getShape());
            assertArrayEquals(t.get("f").toFloatArray(), back.get("f").toFloatArray());
            assertArrayEquals(t.get("i").toLongArray(), back.get("i").toLongArray());
            assertEquals(new Shape(0, 4), back.get("empty").getShape());
            assertEquals(Map.of("k", "v"), SafeTensors.readMetadata(file));

            // BF16: 1.0, -2.5, and F16: 1.0, -2.5, 65504, 2^-24 (subnormal), inf, NaN
            short[] bf16 = {(short) 0x3f80, (short) 0xc020};
            short[] f16 = {(short) 0x3c00, (short) 0xc100, (short) 0x7bff, (short) 0x0001, (short) 0x7c00, (short) 0x7e00};
            ByteBuffer data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            for (short s : bf16) {
                data.putShort(s);
            }
            for (short s : f16) {
                data.putShort(s);
            }
            Path half = raw(dir, "half.safetensors",
                    "{\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                            + "\"h\":{\"dtype\":\"F16\",\"shape\":[6],\"data_offsets\":[4,16]}}", data.array());
            Map<String, NDArray> h = SafeTensors.load(half, m);
            assertEquals(DataType.FLOAT32, h.get("b").getDataType());
            assertArrayEquals(new float[] {1f, -2.5f}, h.get("b").toFloatArray());
            float[] f = h.get("h").toFloatArray();
            assertEquals(1f, f[0]);
            assertEquals(-2.5f, f[1]);
            assertEquals(65504f, f[2]);
            assertEquals(0x1p-24f, f[3]);
            assertEquals(Float.POSITIVE_INFINITY, f[4]);
            assertTrue(Float.isNaN(f[5]));
        }
    }

    @Test
    void rejectsHostileFiles(@TempDir Path dir) throws IOException {
        byte[] eight = new byte[8];
        assertRejected(raw(dir, "a", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight), "overlap");
        assertRejected(raw(dir, "b", "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", eight),
                "outside the data section");
        assertRejected(raw(dir, "c", "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", eight),
                "needs 12");
        assertRejected(raw(dir, "d", "{\"x\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", eight),
                "unsupported dtype");
        assertRejected(raw(dir, "e", "[1, 2]", eight), "not a JSON object");
        assertRejected(raw(dir, "f", "{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", eight),
                "negative dimension");
        assertRejected(raw(dir, "g", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", eight),
                "data_offsets");
        assertRejected(raw(dir, "h", "{not json", eight), "not valid JSON");
        Path huge = dir.resolve("huge");
        Files.write(huge, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
        assertRejected(huge, "header length");
        Path tiny = dir.resolve("tiny");
        Files.write(tiny, new byte[3]);
        assertRejected(tiny, "too short");
    }

    private static void assertRejected(Path file, String expected) {
        try (NDManager m = NDManager.newBaseManager()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.load(file, m));
            assertTrue(e.getMessage().contains(expected), "'" + e.getMessage() + "' lacks '" + expected + "'");
        }
    }

    @Test
    void checkpointFoldersAreValidated(@TempDir Path dir) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Files.createDirectories(dir.resolve("dup"));
            SafeTensors.save(dir.resolve("dup/model_0.safetensors"), Map.of("w", m.ones(new Shape(2))), Map.of());
            SafeTensors.save(dir.resolve("dup/model_1.safetensors"), Map.of("w", m.ones(new Shape(2))), Map.of());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> SafeTensors.loadCheckpoint(dir.resolve("dup"), m));
            assertTrue(e.getMessage().contains("appears in both"), e.getMessage());

            Files.createDirectories(dir.resolve("none"));
            e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.loadCheckpoint(dir.resolve("none"), m));
            assertTrue(e.getMessage().contains("no weights"), e.getMessage());

            Files.createDirectories(dir.resolve("escape"));
            Files.writeString(dir.resolve("escape/model.safetensors.index.json"),
                    "{\"weight_map\": {\"w\": \"../dup/model_0.safetensors\"}}");
            e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.loadCheckpoint(dir.resolve("escape"), m));
            assertTrue(e.getMessage().contains("leaves the folder"), e.getMessage());
        }
    }
}
