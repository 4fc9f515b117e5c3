package ai.djl.xlstm.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.xlstm.zoo.HuggingFaceTextCodec;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Streaming detokenization with the real byte-level GPT-2 BPE (8k merges), where characters split across tokens.
 * In the package of the (package-private) {@link StreamingDecoder}; here because the tokenizer and its file live
 * in xlstm-zoo and xlstm-examples.
 */
class StreamingTextTest {

    @Test
    void multiByteCharactersSplitAcrossTokensStreamWhole() throws Exception {
        String text = " naïve café — 東京で会いましょう 😀👍🏽 «quoted» Ωμέγα";
        try (HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(Path.of("data/gpt2-8k-tokenizer.json"))) {
            long[] ids = codec.encode(text);
            assertTrue(ids.length > text.codePointCount(0, text.length()) / 2, "expected byte-level splits");
            assertTrue(codec.decode(new long[] {ids[ids.length / 2]}).contains("\uFFFD")
                    || java.util.stream.LongStream.of(ids).anyMatch(id -> codec.decode(new long[] {id}).contains("\uFFFD")),
                    "some token should end inside a character");
            StreamingDecoder decoder = new StreamingDecoder(codec, codec.encode("She said:"), List.of());
            List<String> pieces = new ArrayList<>();
            for (long id : ids) {
                pieces.add(decoder.push(id));
            }
            pieces.add(decoder.finish());
            for (String p : pieces) {
                assertFalse(p.contains("\uFFFD"), "a broken character was streamed: " + pieces);
            }
            assertEquals(text, String.join("", pieces));
        }
    }
}
