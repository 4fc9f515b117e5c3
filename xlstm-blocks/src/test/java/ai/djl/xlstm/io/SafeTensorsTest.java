package ai.djl.xlstm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

class SafeTensorsTest {

    private static NDManager manager;

    @TempDir Path dir;

    @BeforeAll
    static void createManager() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void closeManager() {
        manager.close();
    }

    @Test
    void roundTripKeepsValuesTypesOrderAndMetadata() throws IOException {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("weight", manager.arange(6f).reshape(2, 3).transpose());
        tensors.put("ids", manager.create(new long[] {-1, 0, Long.MAX_VALUE}));
        tensors.put("empty", manager.zeros(new Shape(0, 4)));
        tensors.put("scalar", manager.create(2.5f));
        tensors.put("f64", manager.create(new double[] {Math.PI}));
        tensors.put("i32", manager.create(new int[] {Integer.MIN_VALUE, 7}));
        tensors.put("i8", manager.create(new byte[] {-128, 127}));
        NDArray u8 = manager.create(new byte[] {1, (byte) 255}).toType(DataType.UINT8, false);
        tensors.put("u8", u8);
        tensors.put("mask", manager.create(new boolean[] {true, false}));
        Path file = dir.resolve("t.safetensors");
        SafeTensors.save(file, tensors, Map.of("format", "pt"));

        long headerLength = readHeaderLength(file);
        assertEquals(0, headerLength % 8);
        byte[] bytes = Files.readAllBytes(file);
        String json = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        assertTrue(json.startsWith("{\"__metadata__\":{\"format\":\"pt\",\"" + SafeTensors.DATA_CHECKSUM_KEY + "\":\""), json);
        CRC32C crc = new CRC32C();
        crc.update(bytes, (int) (8 + headerLength), (int) (bytes.length - 8 - headerLength));
        assertEquals(String.format("%08x", crc.getValue()), SafeTensors.readMetadata(file).get(SafeTensors.DATA_CHECKSUM_KEY),
                "the checksum of the data as written");

        Map<String, SafeTensors.TensorInfo> header = SafeTensors.readHeader(file);
        assertEquals(List.copyOf(tensors.keySet()), List.copyOf(header.keySet()));
        assertEquals("F32", header.get("weight").dtype());
        assertArrayEquals(new long[] {3, 2}, header.get("weight").shape());
        assertEquals("BOOL", header.get("mask").dtype());

        Map<String, NDArray> loaded = SafeTensors.load(file, manager);
        assertEquals(List.copyOf(tensors.keySet()), List.copyOf(loaded.keySet()));
        for (Map.Entry<String, NDArray> entry : tensors.entrySet()) {
            NDArray expected = entry.getValue();
            NDArray actual = loaded.get(entry.getKey());
            assertEquals(expected.getDataType(), actual.getDataType(), entry.getKey());
            assertEquals(expected.getShape(), actual.getShape(), entry.getKey());
            assertTrue(expected.contentEquals(actual), entry.getKey());
        }
        assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5}, loaded.get("weight").toFloatArray());
        assertArrayEquals(new long[] {-1, 0, Long.MAX_VALUE}, loaded.get("ids").toLongArray());
    }

    @Test
    void aChangedByteInSavedDataIsRefusedAsCorruption() throws IOException {
        Path file = dir.resolve("flip.safetensors");
        SafeTensors.save(file, Map.of("w", manager.arange(64f)), null);
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 3] ^= 1; // a low mantissa bit of the last float: still a plausible value
        Files.write(file, bytes);
        SafeTensors.readHeader(file); // the header alone is fine
        assertMessage(() -> SafeTensors.load(file, manager), file + " is corrupted: its tensor data do not match the checksum");
    }

    @Test
    void bf16IsWidenedToFloat32() throws IOException {
        int[] bits = {0x3F80, 0xC020, 0x3DCD, 0x7F80, 0xFF80, 0x7FC0};
        Path file = writeHalfFile("BF16", bits);
        NDArray array = SafeTensors.load(file, manager).get("x");
        assertEquals(DataType.FLOAT32, array.getDataType());
        float[] expected = {
            1f, -2.5f, 0.10009765625f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN
        };
        assertArrayEquals(expected, array.toFloatArray());
    }

    @Test
    void f16IsWidenedToFloat32IncludingSubnormalsAndSpecials() throws IOException {
        int[] bits = {
            0x3C00, 0xC100, 0x2E66, 0x7BFF, 0x0001, 0x03FF, 0x8000, 0x7C00, 0xFC00, 0x7E00
        };
        Path file = writeHalfFile("F16", bits);
        NDArray array = SafeTensors.load(file, manager).get("x");
        assertEquals(DataType.FLOAT32, array.getDataType());
        float[] expected = {
            1f,
            -2.5f,
            0.0999755859375f,
            65504f,
            0x1p-24f,
            1023 * 0x1p-24f,
            -0f,
            Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY,
            Float.NaN
        };
        assertArrayEquals(expected, array.toFloatArray());
    }

    @Test
    void halfTensorsSpanningSeveralReadChunksAreWidenedCompletely() throws IOException {
        int[] bits = new int[1_500_000];
        float[] expected = new float[bits.length];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = 0x3F80 + i % 128; // 1 + (i % 128) / 128 in bf16
            expected[i] = 1 + (i % 128) / 128f;
        }
        Path file = writeHalfFile("BF16", bits);
        assertArrayEquals(expected, SafeTensors.load(file, manager).get("x").toFloatArray());
    }

    @Test
    void i16IsWidenedToInt32() throws IOException {
        Path file = writeHalfFile("I16", new int[] {0x0001, 0xFFFE, 0x7FFF, 0x8000});
        NDArray array = SafeTensors.load(file, manager).get("x");
        assertEquals(DataType.INT32, array.getDataType());
        assertArrayEquals(new int[] {1, -2, 32767, -32768}, array.toIntArray());
    }

    @Test
    void headerLengthBeyondFileIsRejected() throws IOException {
        Path file = dir.resolve("bad.safetensors");
        ByteBuffer bytes = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000);
        Files.write(file, bytes.array());
        assertInvalid(file, "header length 1000 exceeds the file size 16");
    }

    @Test
    void zeroHeaderLengthIsRejected() throws IOException {
        Path file = dir.resolve("bad.safetensors");
        Files.write(file, new byte[16]);
        assertInvalid(file, "header length 0");
    }

    @Test
    void overlappingTensorsAreRejected() throws IOException {
        String json = "{'a':" + f32(2, 0, 8) + ",'b':" + f32(2, 4, 12) + '}';
        assertInvalid(writeRaw(json, 12), "tensors 'a' and 'b' overlap");
    }

    @Test
    void duplicateTensorNamesAreRejected() throws IOException {
        // Otherwise valid: Gson would keep the second 'a' silently; another reader might take the first.
        Path file = writeRaw("{'a':" + f32(1, 0, 4) + ",'a':" + f32(1, 4, 8) + '}', 8);
        assertInvalid(file, file + ": tensor 'a' appears twice in the header");
    }

    @Test
    void duplicateKeysInsideEntriesAndMetadataAreRejected() throws IOException {
        String dtypeTwice = "{'a':{'dtype':'F32','dtype':'I32','shape':[1],'data_offsets':[0,4]}}";
        assertInvalid(writeRaw(dtypeTwice, 4), "key 'dtype' appears twice in the entry of tensor 'a'");
        String metadataKeyTwice = "{'__metadata__':{'k':'1','k':'2'},'a':" + f32(1, 0, 4) + '}';
        assertInvalid(writeRaw(metadataKeyTwice, 4), "key 'k' appears twice in __metadata__");
        String metadataTwice = "{'__metadata__':{'k':'1'},'a':" + f32(1, 0, 4) + ",'__metadata__':{}}";
        assertInvalid(writeRaw(metadataTwice, 4), "__metadata__ appears twice in the header");
        assertMessage(() -> SafeTensors.readMetadata(writeRaw(metadataKeyTwice, 4)), "'k' appears twice");
    }

    @Test
    void indexMappingATensorTwiceIsRejected() throws IOException {
        saveFloats("a.safetensors", "x", 1f);
        saveFloats("b.safetensors", "x", 2f);
        writeIndex("{'x':'a.safetensors','x':'b.safetensors'}");
        assertCheckpointInvalid("model.safetensors.index.json: tensor 'x' appears twice in weight_map");
    }

    @Test
    void offsetsPastTheEndAreRejected() throws IOException {
        assertInvalid(writeRaw("{'a':" + f32(4, 0, 16) + '}', 8), "'a' data_offsets [0, 16]");
    }

    @Test
    void byteLengthNotMatchingShapeIsRejected() throws IOException {
        assertInvalid(writeRaw("{'a':" + f32(3, 0, 8) + '}', 8), "'a' has 8 data bytes");
    }

    @Test
    void unknownDtypeIsRejected() throws IOException {
        String json = "{'a':{'dtype':'Q4','shape':[2],'data_offsets':[0,1]}}";
        assertInvalid(writeRaw(json, 1), "'a' has missing or unknown dtype \"Q4\"");
    }

    @Test
    void malformedShapesAreRejected() throws IOException {
        String negative = "{'a':{'dtype':'U8','shape':[-1],'data_offsets':[0,0]}}";
        assertInvalid(writeRaw(negative, 0), "'a' shape must be an array of non-negative");
        String fraction = "{'a':{'dtype':'U8','shape':[1.5],'data_offsets':[0,0]}}";
        assertInvalid(writeRaw(fraction, 0), "'a' shape must be an array of non-negative");
        String huge = "{'a':{'dtype':'F32','shape':[4611686018427387904,4],'data_offsets':[0,0]}}";
        assertInvalid(writeRaw(huge, 0), "'a' shape [4611686018427387904, 4] has too many");
    }

    @Test
    void nonObjectAndInvalidJsonAreRejected() throws IOException {
        assertInvalid(writeRaw("[1,2]", 0), "header JSON must be an object");
        assertInvalid(writeRaw("{'a':", 0), "invalid JSON");
        assertInvalid(writeRaw("{} {}", 0), "invalid JSON");
        assertInvalid(writeRaw("{'__metadata__':{'n':1}}", 0), "__metadata__ must be");
    }

    @Test
    void invalidBooleanBytesAreRejected() throws IOException {
        String json = "{'m':{'dtype':'BOOL','shape':[2],'data_offsets':[0,2]}}";
        Path file = writeRaw(json, new byte[] {1, 2});
        assertMessage(() -> SafeTensors.load(file, manager), "'m' holds a BOOL byte");
    }

    @Test
    void indexedShardsAreLoadedAsMapped() throws IOException {
        saveFloats("a.safetensors", "x", 1f, "unlisted", 9f);
        saveFloats("b.safetensors", "y", 2f);
        writeIndex("{'x':'a.safetensors','y':'b.safetensors'}");
        Map<String, NDArray> loaded = SafeTensors.loadCheckpoint(dir, manager);
        assertEquals(List.of("x", "y"), List.copyOf(loaded.keySet()));
        assertArrayEquals(new float[] {2f}, loaded.get("y").toFloatArray());
    }

    @Test
    void indexNamingAMissingTensorIsRejected() throws IOException {
        saveFloats("a.safetensors", "x", 1f);
        writeIndex("{'x':'a.safetensors','z':'a.safetensors'}");
        assertCheckpointInvalid("tensor 'z' listed in model.safetensors.index.json is missing");
    }

    @Test
    void indexShardOutsideTheFolderIsRejected() throws IOException {
        writeIndex("{'x':'../a.safetensors'}");
        assertCheckpointInvalid("outside the folder");
    }

    @Test
    void numberedShardsAreLoadedInNumericOrder() throws IOException {
        saveFloats("model_10.safetensors", "c", 3f);
        saveFloats("model_0.safetensors", "a", 1f);
        saveFloats("model_2.safetensors", "b", 2f);
        Map<String, NDArray> loaded = SafeTensors.loadCheckpoint(dir, manager);
        assertEquals(List.of("a", "b", "c"), List.copyOf(loaded.keySet()));
        assertArrayEquals(new float[] {3f}, loaded.get("c").toFloatArray());
    }

    @Test
    void singleFileCheckpointsAreFound() throws IOException {
        saveFloats("weights.safetensors", "w", 4f);
        assertEquals(List.of("w"), List.copyOf(SafeTensors.loadCheckpoint(dir, manager).keySet()));
        saveFloats("model.safetensors", "m", 5f);
        assertEquals(List.of("m"), List.copyOf(SafeTensors.loadCheckpoint(dir, manager).keySet()));
    }

    @Test
    void duplicateNamesAcrossShardsAreRejected() throws IOException {
        saveFloats("model_0.safetensors", "w", 1f);
        saveFloats("model_1.safetensors", "w", 2f);
        assertCheckpointInvalid("'w' appears in both model_0.safetensors and model_1.safetensors");
    }

    @Test
    void foldersWithoutACheckpointAreRejected() throws IOException {
        assertCheckpointInvalid("no checkpoint found; looked for model.safetensors.index.json");
        saveFloats("a.safetensors", "x", 1f);
        saveFloats("b.safetensors", "y", 1f);
        assertCheckpointInvalid("cannot choose among [a.safetensors, b.safetensors]");
        Path missing = dir.resolve("missing");
        assertMessage(() -> SafeTensors.loadCheckpoint(missing, manager), "not a checkpoint");
    }

    private static String f32(long elements, long begin, long end) {
        return "{'dtype':'F32','shape':[" + elements + "],'data_offsets':[" + begin + ',' + end
                + "]}";
    }

    private static long readHeaderLength(Path file) throws IOException {
        byte[] prefix = new byte[8];
        System.arraycopy(Files.readAllBytes(file), 0, prefix, 0, 8);
        return ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /** Writes a file by hand; single quotes in {@code json} stand for double quotes. */
    private Path writeRaw(String json, byte[] data) throws IOException {
        byte[] header = json.replace('\'', '"').getBytes(StandardCharsets.UTF_8);
        ByteBuffer bytes =
                ByteBuffer.allocate(8 + header.length + data.length)
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(header.length)
                        .put(header)
                        .put(data);
        Path file = dir.resolve("raw.safetensors");
        Files.write(file, bytes.array());
        return file;
    }

    private Path writeRaw(String json, int dataLength) throws IOException {
        return writeRaw(json, new byte[dataLength]);
    }

    /** Writes one tensor "x" of 16-bit values given as bit patterns. */
    private Path writeHalfFile(String dtype, int[] bits) throws IOException {
        ByteBuffer data = ByteBuffer.allocate(2 * bits.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int value : bits) {
            data.putShort((short) value);
        }
        String json =
                "{'x':{'dtype':'" + dtype + "','shape':[" + bits.length + "],'data_offsets':[0,"
                        + data.capacity() + "]}}";
        return writeRaw(json, data.array());
    }

    /** Saves scalar float tensors given as alternating names and values. */
    private void saveFloats(String fileName, Object... namesAndValues) throws IOException {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            float value = (Float) namesAndValues[i + 1];
            tensors.put((String) namesAndValues[i], manager.create(new float[] {value}));
        }
        SafeTensors.save(dir.resolve(fileName), tensors, null);
    }

    private void writeIndex(String weightMap) throws IOException {
        String json = "{'metadata':{'total_size':8},'weight_map':" + weightMap + '}';
        Files.writeString(dir.resolve("model.safetensors.index.json"), json.replace('\'', '"'));
    }

    private static void assertInvalid(Path file, String expected) {
        assertMessage(() -> SafeTensors.readHeader(file), expected);
        assertMessage(() -> SafeTensors.load(file, manager), expected);
    }

    private void assertCheckpointInvalid(String expected) {
        assertMessage(() -> SafeTensors.loadCheckpoint(dir, manager), expected);
    }

    private static void assertMessage(Executable call, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void halfPrecisionSavesRoundToNearestEvenAndReloadExactly(@TempDir Path tmp)
            throws Exception {
        // every half and every bfloat16 value converts back to itself through float
        for (int h = 0; h < 0x10000; h++) {
            float f = Float.intBitsToFloat(halfBits(h));
            if (!Float.isNaN(f)) {
                assertEquals((short) h, SafeTensors.floatToHalf(f), "half " + h);
            }
            float b = Float.intBitsToFloat(h << 16);
            if (!Float.isNaN(b)) {
                assertEquals((short) h, SafeTensors.floatToBfloat16(b), "bfloat16 " + h);
            }
        }
        // ties go to even; beyond the range is infinity
        assertEquals((short) 0x3C00, SafeTensors.floatToHalf(1f + 0x1p-11f));
        assertEquals((short) 0x3C02, SafeTensors.floatToHalf(1f + 3 * 0x1p-11f));
        assertEquals((short) 0x7C00, SafeTensors.floatToHalf(70000f));
        try (NDManager manager = NDManager.newBaseManager()) {
            java.util.Random random = new java.util.Random(1);
            float[] values = new float[4096];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(8) - 4));
            }
            NDArray a = manager.create(values).reshape(64, 64);
            for (SafeTensors.FloatStorage storage : List.of(SafeTensors.FloatStorage.F16, SafeTensors.FloatStorage.BF16)) {
                Path file = tmp.resolve(storage + ".safetensors");
                SafeTensors.save(file, java.util.Map.of("a", a), null, storage);
                assertEquals(storage.name(), SafeTensors.readHeader(file).get("a").dtype());
                float[] back = SafeTensors.load(file, manager).get("a").toFloatArray();
                int bits = storage == SafeTensors.FloatStorage.F16 ? 10 : 7;
                for (int i = 0; i < values.length; i++) {
                    float expected = values[i];
                    double tolerance = Math.max(Math.abs(expected) * Math.pow(2, -bits - 1), storage == SafeTensors.FloatStorage.F16 ? 0x1p-25 : 0);
                    assertEquals(expected, back[i], tolerance * 1.0001, storage + " [" + i + "]");
                }
            }
        }
    }

    private static int halfBits(int half) {
        int sign = (half & 0x8000) << 16;
        int exponent = (half >>> 10) & 0x1F;
        int mantissa = half & 0x3FF;
        if (exponent == 0x1F) {
            return sign | 0x7F800000 | mantissa << 13;
        }
        if (exponent == 0) {
            return sign | Float.floatToRawIntBits(mantissa * 0x1p-24f);
        }
        return sign | (exponent + 127 - 15) << 23 | mantissa << 13;
    }
}
