package ai.djl.xlstm.generate;

import java.util.OptionalLong;

/** Turns text into token ids and back: what the generator needs of a tokenizer. */
public interface TextCodec {

    /** The token ids of {@code text}, with no special tokens added and no truncation. */
    long[] encode(String text);

    /**
     * The text of {@code ids}. Byte-level tokenizers decode an incomplete UTF-8 sequence as
     * U+FFFD, which {@link StreamingDecoder} relies on to hold such text back.
     */
    String decode(long[] ids);

    /** The largest token id plus one. */
    int vocabularySize();

    /** The end-of-text token ({@code <|endoftext|>}, {@code </s>}, ...), if the tokenizer has one. */
    OptionalLong endOfText();
}
