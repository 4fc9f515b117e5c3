package ai.djl.xlstm.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

class StreamingDecoderTest {

    private final ByteCodec codec = new ByteCodec(300);

    private List<String> pieces(StreamingDecoder decoder, String text) {
        List<String> out = new ArrayList<>();
        for (long id : codec.encode(text)) {
            out.add(decoder.push(id));
            if (decoder.stopped()) {
                break;
            }
        }
        out.add(decoder.finish());
        return out;
    }

    @Test
    void multiByteCharactersAreNeverReleasedBroken() {
        String text = "naïve café — 東京 😀!";
        StreamingDecoder decoder = new StreamingDecoder(codec, codec.encode("ctx "), List.of());
        List<String> pieces = pieces(decoder, text);
        StringBuilder joined = new StringBuilder();
        for (String p : pieces) {
            assertFalse(p.contains("\uFFFD"), "a broken character was released: " + pieces);
            joined.append(p);
        }
        assertEquals(text, joined.toString());
        assertEquals(text, decoder.text());
        // the 4-byte emoji comes out whole on its last byte, nothing before
        int emoji = text.indexOf("😀");
        assertEquals("😀", pieces.get(text.substring(0, emoji).getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 3));
    }

    @Test
    void stopStringsCutTheTextAndPartialMatchesAreHeldBack() {
        StreamingDecoder decoder = new StreamingDecoder(codec, new long[0], List.of("\n\nUser:", "END"));
        List<String> pieces = pieces(decoder, "Hello.\n\nUsual text\n\nUser: more");
        assertTrue(decoder.stopped());
        assertEquals("Hello.\n\nUsual text", decoder.text());
        assertEquals("Hello.\n\nUsual text", String.join("", pieces));
        for (String p : pieces) {
            assertFalse(p.contains("\n\nU") && p.endsWith("\n\nU"), "held text leaked: " + pieces);
        }
    }

    @Test
    void aPrefixOfAStopStringIsReleasedWhenGenerationEnds() {
        StreamingDecoder decoder = new StreamingDecoder(codec, new long[0], List.of("END"));
        List<String> pieces = pieces(decoder, "the EN");
        assertFalse(decoder.stopped());
        assertEquals("the ", String.join("", pieces.subList(0, pieces.size() - 1)));
        assertEquals("EN", pieces.get(pieces.size() - 1));
        assertEquals("the EN", decoder.text());
    }
}
