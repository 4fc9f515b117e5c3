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
        String prefix = "{\"__metadata__\":{\"xlstm.format\":\"2\",\"xlstm.crc32c\":\"";
        assertTrue(json.startsWith(prefix), json);
        assertTrue(json.startsWith("\",\"format\":\"pt\"},", prefix.length() + 8), json);
        assertEquals(wholeFileCrc(bytes, 8 + prefix.length()), SafeTensors.readMetadata(file).get("xlstm.crc32c"),
                "the checksum of the whole file as written, its own digits read as 0s");

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
        assertMessage(() -> SafeTensors.load(file, manager), file + " is corrupted: its bytes (header or data) do not"
                + " match the checksum saved in it (xlstm.crc32c");
    }

    /** The CRC32C of a whole file as 8 hex digits, the 8 bytes at {@code digitsAt} read as '0'. */
    private static String wholeFileCrc(byte[] bytes, int digitsAt) {
        byte[] blanked = bytes.clone();
        java.util.Arrays.fill(blanked, digitsAt, digitsAt + 8, (byte) '0');
        CRC32C crc = new CRC32C();
        crc.update(blanked);
        return String.format("%08x", crc.getValue());
    }

    /** Where the 8 checksum digits of a file written by save lie. */
    private static int checksumDigitsAt(byte[] bytes) {
        String head = new String(bytes, 0, Math.min(bytes.length, 200), StandardCharsets.ISO_8859_1);
        return head.indexOf("\"xlstm.crc32c\":\"") + "\"xlstm.crc32c\":\"".length();
    }

    @Test
    void everySingleBitFlipOfASavedFileIsRefused() throws IOException {
        Path file = dir.resolve("small.safetensors");
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("a", manager.create(new float[] {1f, -2f, 3.5f}));
        tensors.put("b", manager.create(new float[] {4f, 5f, 6f}));
        tensors.put("ids", manager.create(new int[] {7, 8}));
        SafeTensors.save(file, tensors, Map.of("format", "pt"));
        byte[] original = Files.readAllBytes(file);
        SafeTensors.load(file, manager).values().forEach(NDArray::close);
        Path flipped = dir.resolve("flipped.safetensors");
        int refused = 0;
        List<String> loaded = new java.util.ArrayList<>();
        for (int bit = 0; bit < original.length * 8; bit++) {
            byte[] bytes = original.clone();
            bytes[bit / 8] ^= (byte) (1 << (bit % 8));
            Files.write(flipped, bytes);
            try {
                SafeTensors.load(flipped, manager).values().forEach(NDArray::close);
                loaded.add("byte " + bit / 8 + " bit " + bit % 8);
            } catch (IllegalArgumentException | IOException e) {
                refused++;
            }
        }
        System.out.printf("single-bit flips of a %d-byte saved file: %d of %d refused%n",
                original.length, refused, original.length * 8);
        assertEquals(List.of(), loaded, "flips that loaded");
    }

    @Test
    void headerChangesThatKeepItValidAreRefusedByTheChecksum() throws IOException {
        Path file = dir.resolve("header.safetensors");
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("p", manager.create(new float[] {1f, 2f}));
        tensors.put("q", manager.create(new float[] {3f, 4f}));
        SafeTensors.save(file, tensors, null);
        String json = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
        // the two same-shaped tensors' offsets swapped: a valid header that reads p as q
        String swapped = json.replace("[0,8]", "[X]").replace("[8,16]", "[0,8]").replace("[X]", "[8,16]");
        Path swappedFile = dir.resolve("swapped.safetensors");
        Files.write(swappedFile, swapped.getBytes(StandardCharsets.ISO_8859_1));
        SafeTensors.readHeader(swappedFile); // a valid header
        assertMessage(() -> SafeTensors.load(swappedFile, manager), swappedFile + " is corrupted");
        // float32 relabelled as int32 (same size)
        Path relabelled = dir.resolve("relabelled.safetensors");
        Files.write(relabelled, json.replaceFirst("\"F32\"", "\"I32\"").getBytes(StandardCharsets.ISO_8859_1));
        assertEquals("I32", SafeTensors.readHeader(relabelled).get("p").dtype());
        assertMessage(() -> SafeTensors.load(relabelled, manager), relabelled + " is corrupted");
    }

    @Test
    void aDamagedChecksumKeyOrFormatIsRefused() throws IOException {
        Path file = dir.resolve("keys.safetensors");
        SafeTensors.save(file, Map.of("w", manager.create(new float[] {1f})), null);
        String json = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
        // the case: one flipped bit in the checksum's key name
        Path renamed = dir.resolve("renamed.safetensors");
        Files.write(renamed, json.replace("xlstm.crc32c", "xlstm.crc32b").getBytes(StandardCharsets.ISO_8859_1));
        assertInvalid(renamed, renamed + ": its metadata has keys of this library's writer [xlstm.format, xlstm.crc32b]"
                + " but no valid checksum");
        Path prefix = dir.resolve("prefix.safetensors");
        Files.write(prefix, json.replace("xlstm.crc32c", "xlstl.crc32c").getBytes(StandardCharsets.ISO_8859_1));
        assertInvalid(prefix, "no valid checksum");
        Path newer = dir.resolve("newer.safetensors");
        Files.write(newer, json.replace("\"xlstm.format\":\"2\"", "\"xlstm.format\":\"3\"")
                .getBytes(StandardCharsets.ISO_8859_1));
        assertInvalid(newer, "metadata xlstm.format is '3', but this library reads format 2");
        Path upper = dir.resolve("upper.safetensors");
        int at = checksumDigitsAt(json.getBytes(StandardCharsets.ISO_8859_1));
        byte[] bytes = json.getBytes(StandardCharsets.ISO_8859_1);
        for (int i = at; i < at + 8; i++) {
            bytes[i] = (byte) 'A';
        }
        Files.write(upper, bytes);
        assertInvalid(upper, "its checksum xlstm.crc32c 'AAAAAAAA' is not written as this library writes it");
        // a file of another writer with a key of ours but no checksum
        String ours = "{'__metadata__':{'xlstm.note':'x'},'a':" + f32(1, 0, 4) + '}';
        assertInvalid(writeRaw(ours, 4), "its metadata has keys of this library's writer [xlstm.note]");
    }

    @Test
    void filesOfFormatOneLoadCheckedAgainstTheirDataChecksum() throws IOException {
        byte[] data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).array();
        CRC32C crc = new CRC32C();
        crc.update(data);
        String v1 = "{'__metadata__':{'format':'pt','xlstm.data_crc32c':'" + String.format("%08x", crc.getValue())
                + "'},'w':" + f32(2, 0, 8) + '}';
        Path file = writeRaw(v1, data);
        assertArrayEquals(new float[] {1.5f, -2f}, SafeTensors.load(file, manager).get("w").toFloatArray());
        data[0] ^= 1;
        Path flipped = writeRaw(v1, data);
        assertMessage(() -> SafeTensors.load(flipped, manager), flipped + " is corrupted: its tensor data do not match"
                + " the checksum saved with them (xlstm.data_crc32c");
        data[0] ^= 1;
        Path renamed = writeRaw(v1.replace("xlstm.data_crc32c", "xlstm.data_crc32s"), data);
        assertInvalid(renamed, "keys of this library's writer [xlstm.data_crc32s] but no valid checksum");
        Path prefix = writeRaw(v1.replace("xlstm.data_crc32c", "xlctm.data_crc32c"), data);
        assertInvalid(prefix, "keys of this library's writer [xlctm.data_crc32c] but no valid checksum");
        // saving it again writes format 2
        Map<String, String> metadata = SafeTensors.readMetadata(writeRaw(v1, data));
        Path again = dir.resolve("again.safetensors");
        SafeTensors.save(again, SafeTensors.load(writeRaw(v1, data), manager), metadata);
        assertEquals(Map.of("xlstm.format", "2", "xlstm.crc32c", SafeTensors.readMetadata(again).get("xlstm.crc32c"),
                "format", "pt"), SafeTensors.readMetadata(again));
        assertArrayEquals(new float[] {1.5f, -2f}, SafeTensors.load(again, manager).get("w").toFloatArray());
    }

    @Test
    void theTensorsMustCoverTheDataSectionExactly() throws IOException {
        // the case: a header length one less than written shifts every tensor by a byte
        String json = "{'a':" + f32(2, 0, 8) + ",'b':" + f32(1, 8, 12) + "}  ";
        Path file = writeRaw(json, 12);
        SafeTensors.load(file, manager).values().forEach(NDArray::close);
        byte[] bytes = Files.readAllBytes(file);
        bytes[0]--;
        Files.write(file, bytes);
        assertInvalid(file, "the tensors cover 12 bytes but the data section (from the end of the header to the end"
                + " of the file) has 13: a wrong header length, or bytes appended to the file");
        // bytes appended after the data
        assertInvalid(writeRaw(json, 13), "the tensors cover 12 bytes but the data section");
        // a gap between tensors, and one before the first
        assertInvalid(writeRaw("{'a':" + f32(1, 0, 4) + ",'b':" + f32(1, 8, 12) + '}', 12),
                "bytes 4 to 8 of the data section belong to no tensor (a gap before tensor 'b')");
        assertInvalid(writeRaw("{'a':" + f32(1, 4, 8) + '}', 8), "bytes 0 to 4 of the data section belong to no tensor");
        // a file saved by us, its header length one less: refused before its checksum is read
        Path saved = dir.resolve("saved.safetensors");
        SafeTensors.save(saved, Map.of("w", manager.arange(4f)), null);
        byte[] savedBytes = Files.readAllBytes(saved);
        savedBytes[0]--;
        Files.write(saved, savedBytes);
        assertInvalid(saved, "the tensors cover 16 bytes but the data section");
        // empty tensors anywhere in the sequence, and out of header order, are fine
        String shuffled = "{'b':" + f32(1, 4, 8) + ",'e':" + f32(0, 4, 4) + ",'a':" + f32(1, 0, 4) + ",'z':"
                + f32(0, 8, 8) + '}';
        assertEquals(List.of("b", "e", "a", "z"), List.copyOf(SafeTensors.readHeader(writeRaw(shuffled, 8)).keySet()));
        assertInvalid(writeRaw("{'a':" + f32(2, 0, 8) + ",'e':" + f32(0, 4, 4) + '}', 8),
                "tensors 'a' and 'e' overlap");
    }

    @Test
    void pipesAndFoldersAreRefusedBeforeTheyAreOpened() throws Exception {
        Path fifo = dir.resolve("shard.safetensors");
        org.junit.jupiter.api.Assumptions.assumeTrue(
                new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0, "mkfifo is available");
        saveFloats("a.safetensors", "x", 1f);
        writeIndex("{'x':'a.safetensors','y':'shard.safetensors'}");
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(60), () -> {
            assertCheckpointInvalid("model.safetensors.index.json: tensor 'y' is mapped to shard 'shard.safetensors',"
                    + " which is not a regular file (a folder, pipe or device)");
            assertMessage(() -> SafeTensors.readCheckpointHeader(dir), "which is not a regular file");
            assertInvalid(fifo, fifo + ": not a regular file (a folder, pipe or device)");
            assertMessage(() -> SafeTensors.readMetadata(fifo), "not a regular file");
        }, "a FIFO must be refused, not opened (the open blocks until a writer comes)");
        writeIndex("{'x':'a.safetensors','y':'gone.safetensors'}");
        assertCheckpointInvalid("tensor 'y' is mapped to shard 'gone.safetensors', which does not exist");
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
    void anIndexThatIsNotUtf8IsRefusedNamingIt() throws IOException {
        // the fuzz harness's case: one byte of model.safetensors.index.json set to 0xC3 gave
        // "MalformedInputException: Input length = 1", naming no file
        saveFloats("a.safetensors", "x", 1f);
        writeIndex("{'x':'a.safetensors'}");
        Path index = dir.resolve("model.safetensors.index.json");
        byte[] bytes = Files.readAllBytes(index);
        int at = new String(bytes, StandardCharsets.US_ASCII).indexOf("a.safetensors");
        bytes[at] = (byte) 0xC3; // a lead byte followed by an ASCII byte: not UTF-8
        Files.write(index, bytes);
        String expected = index + ": not UTF-8 JSON (a Hugging Face model.safetensors.index.json is UTF-8 text)";
        assertCheckpointInvalid(expected);
        assertMessage(() -> SafeTensors.readCheckpointHeader(dir), expected);
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
