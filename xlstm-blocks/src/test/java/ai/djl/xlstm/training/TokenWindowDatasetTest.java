package ai.djl.xlstm.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.xlstm.generate.TextCodec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/** The train/validation split: the tail of every document, cut at a paragraph, line or space. */
class TokenWindowDatasetTest {

    /** One token per character (code points below 256), end of text 256. */
    private static final TextCodec CHARS = new TextCodec() {
        @Override
        public long[] encode(String text) {
            return text.chars().mapToLong(c -> c & 0xFF).toArray();
        }

        @Override
        public String decode(long[] ids) {
            StringBuilder b = new StringBuilder();
            for (long id : ids) {
                b.append((char) id);
            }
            return b.toString();
        }

        @Override
        public int vocabularySize() {
            return 257;
        }

        @Override
        public OptionalLong endOfText() {
            return OptionalLong.of(256);
        }
    };

    @Test
    void aTextWithoutBlankLinesSplitsAtALineBreak(@TempDir Path tmp) throws Exception {
        String line = "A line of prose without any blank line after it, as some texts are.\n";
        Path file = Files.writeString(tmp.resolve("flat.txt"), line.repeat(2200), StandardCharsets.UTF_8); // ~150 KB
        long[][] split = TokenWindowDataset.split(file, CHARS, 0.1);
        long total = line.length() * 2200L;
        assertEquals(total + 2, split[0].length + split[1].length, "every character once, plus an end of text each");
        assertEquals(0, (split[1].length - 1) % line.length(), "the validation text starts at a line");
        assertTrue(Math.abs(split[1].length - 0.1 * total) <= line.length() + 1, "about 10%: " + split[1].length);
    }

    @Test
    void everyDocumentGivesItsTailToValidation(@TempDir Path tmp) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("docs"));
        Files.writeString(dir.resolve("a.txt"), "aaaa aaaa.\n\n".repeat(100));
        Files.writeString(dir.resolve("b.txt"), "bbbb bbbb.\n\n".repeat(300));
        long[][] split = TokenWindowDataset.split(dir, CHARS, 0.1);
        String validation = CHARS.decode(split[1]);
        assertTrue(validation.contains("a") && validation.contains("b"), "both books are validated on");
        assertEquals(10 * 12 + 30 * 12 + 2, split[1].length, "the last 10% of each, at paragraph breaks");
    }

    @Test
    void theCorpusHashIsSha256OfWhatTrainingReads(@TempDir Path tmp) throws Exception {
        // FIPS 180-2's test vector: SHA-256("abc")
        Path file = Files.writeString(tmp.resolve("abc.txt"), "abc");
        assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                TokenWindowDataset.corpusSha256(file));
        Path books = Files.createDirectories(tmp.resolve("books"));
        Files.writeString(books.resolve("a.txt"), "ab");
        Files.writeString(books.resolve("b.txt"), "c");
        Files.writeString(books.resolve("notes.md"), "not read by split");
        String folder = TokenWindowDataset.corpusSha256(books);
        Path copy = Files.createDirectories(tmp.resolve("copy"));
        Files.writeString(copy.resolve("a.txt"), "ab");
        Files.writeString(copy.resolve("b.txt"), "c");
        assertEquals(folder, TokenWindowDataset.corpusSha256(copy), "the same documents elsewhere, without notes.md");
        Files.writeString(copy.resolve("a.txt"), "a");
        Files.writeString(copy.resolve("b.txt"), "bc");
        assertTrue(!folder.equals(TokenWindowDataset.corpusSha256(copy)), "document boundaries count");
        Files.writeString(copy.resolve("a.txt"), "c");
        Files.writeString(copy.resolve("b.txt"), "ab");
        assertTrue(!folder.equals(TokenWindowDataset.corpusSha256(copy)), "the order counts");
    }

    @Test
    void withoutSamplingTheWindowsComeOneAtATimeInOrder() throws Exception {
        long[] tokens = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        TokenWindowDataset data = TokenWindowDataset.builder().setTokens(tokens).setSequenceLength(3).build();
        assertEquals(3, data.size());
        try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager()) {
            java.util.List<long[]> inputs = new java.util.ArrayList<>();
            for (ai.djl.training.dataset.Batch batch : data.getData(manager)) {
                try (batch) {
                    assertEquals(new ai.djl.ndarray.types.Shape(1, 3), batch.getData().get(0).getShape());
                    inputs.add(batch.getData().get(0).toLongArray());
                    assertEquals(inputs.get(inputs.size() - 1)[0] + 1, batch.getLabels().get(0).toLongArray()[0]);
                }
            }
            assertEquals(3, inputs.size());
            for (int i = 0; i < 3; i++) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {3L * i, 3L * i + 1, 3L * i + 2},
                        inputs.get(i));
            }
        }
    }
}
