package ai.djl.xlstm.generate;

import java.util.OptionalLong;

/** Turns text into token ids and back: what the generator needs of a tokenizer. */
public interface TextCodec {

    /**
     * The token ids of {@code text}, with no special tokens added and no truncation.
     *
     * @param text the text
     * @return its token ids
     */
    long[] encode(String text);

    /**
     * The text of {@code ids}. Byte-level tokenizers decode an incomplete UTF-8 sequence as
     * U+FFFD, which the generator relies on to hold such text back until its character is complete.
     *
     * @param ids the token ids
     * @return their text
     */
    String decode(long[] ids);

    /**
     * The largest token id plus one.
     *
     * @return the vocabulary size
     */
    int vocabularySize();

    /**
     * The end-of-text token ({@code <|endoftext|>}, {@code </s>}, ...), if the tokenizer has one.
     *
     * @return the end-of-text token id, or empty
     */
    OptionalLong endOfText();
}
