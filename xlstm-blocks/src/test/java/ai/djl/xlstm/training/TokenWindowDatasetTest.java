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
}
