package ai.djl.xlstm.zoo;

import ai.djl.xlstm.generate.TextCodec;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;

/**
 * A {@link TextCodec} over any Hugging Face {@code tokenizer.json}, through DJL's tokenizer built
 * without truncation (its default cuts at 512 tokens) and without added special tokens. The
 * tokenizer the translator builders take ({@link TextGenerationTranslator#builder(HuggingFaceTextCodec)});
 * close it when no model uses it any more.
 */
public final class HuggingFaceTextCodec implements TextCodec, AutoCloseable {

    private static final List<String> END_OF_TEXT = List.of("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>");

    private final HuggingFaceTokenizer tokenizer;
    private final int vocabularySize;
    private final OptionalLong endOfText;

    private HuggingFaceTextCodec(HuggingFaceTokenizer tokenizer, int vocabularySize) {
        this.tokenizer = tokenizer;
        this.vocabularySize = vocabularySize;
        OptionalLong eot = OptionalLong.empty();
        for (String name : END_OF_TEXT) {
            long[] ids = tokenizer.encode(name, false, false).getIds();
            if (ids.length == 1) {
                eot = OptionalLong.of(ids[0]);
                break;
            }
        }
        this.endOfText = eot;
    }

    /**
     * Loads {@code tokenizer.json}.
     *
     * @param tokenizerJson the {@code tokenizer.json} file
     * @return the codec
     * @throws IllegalArgumentException if the file is missing or not a tokenizer.json
     * @throws IOException if the file cannot be read
     */
    public static HuggingFaceTextCodec load(Path tokenizerJson) throws IOException {
        int size = vocabularySize(tokenizerJson);
        return new HuggingFaceTextCodec(tokenizer(tokenizerJson), size);
    }

    /**
     * DJL's tokenizer for whole texts: no truncation and no added special tokens (what training
     * and generation both need).
     */
    private static HuggingFaceTokenizer tokenizer(Path tokenizerJson) throws IOException {
        if (!Files.isRegularFile(tokenizerJson)) {
            throw new IllegalArgumentException("tokenizer file not found: " + tokenizerJson);
        }
        try {
            return HuggingFaceTokenizer.builder()
                    .optTokenizerPath(tokenizerJson)
                    .optTruncation(false)
                    .optAddSpecialTokens(false)
                    .build();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(tokenizerJson + " is not a tokenizer.json the Hugging Face tokenizers"
                    + " library can load: " + e.getMessage(), e);
        }
    }

    /**
     * The number of token ids {@code tokenizer.json} can produce: its vocabulary and added tokens.
     *
     * @param tokenizerJson the {@code tokenizer.json} file
     * @return the largest token id plus one
     * @throws IOException if the file cannot be read
     */
    public static int vocabularySize(Path tokenizerJson) throws IOException {
        if (!Files.isRegularFile(tokenizerJson)) {
            throw new IllegalArgumentException("tokenizer file not found: " + tokenizerJson);
        }
        JsonObject root;
        try {
            root = new Gson().fromJson(Files.readString(tokenizerJson, StandardCharsets.UTF_8), JsonObject.class);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException(tokenizerJson + " is not a tokenizer.json: it is not UTF-8 text", e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(tokenizerJson + " is not a tokenizer.json: " + e.getMessage(), e);
        }
        if (root == null) {
            throw new IllegalArgumentException(tokenizerJson + " is empty: not a tokenizer.json");
        }
        int size = 0;
        JsonElement model = root.get("model");
        JsonElement vocab = model != null && model.isJsonObject() ? model.getAsJsonObject().get("vocab") : null;
        if (vocab != null && vocab.isJsonObject()) {
            for (var e : vocab.getAsJsonObject().entrySet()) {
                size = Math.max(size, tokenId(e.getValue(), tokenizerJson, "model.vocab token '" + e.getKey() + "'") + 1);
            }
        } else if (vocab != null && vocab.isJsonArray()) {
            size = vocab.getAsJsonArray().size(); // Unigram
        } else {
            throw new IllegalArgumentException(tokenizerJson + " has no model.vocab: not a tokenizer.json");
        }
        JsonElement added = root.get("added_tokens");
        if (added != null && added.isJsonArray()) {
            int i = 0;
            for (JsonElement t : added.getAsJsonArray()) {
                String what = "added_tokens[" + i++ + "]";
                if (!t.isJsonObject()) {
                    throw new IllegalArgumentException(tokenizerJson + ": " + what + " must be an object, got " + t);
                }
                size = Math.max(size, tokenId(t.getAsJsonObject().get("id"), tokenizerJson, what + " id") + 1);
            }
        }
        return size;
    }

    /** A token id of tokenizer.json: an integer in [0, Integer.MAX_VALUE). */
    private static int tokenId(JsonElement id, Path tokenizerJson, String what) {
        if (id != null && id.isJsonPrimitive() && id.getAsJsonPrimitive().isNumber()) {
            try {
                long value = new java.math.BigDecimal(id.getAsString()).longValueExact();
                if (value >= 0 && value < Integer.MAX_VALUE) {
                    return (int) value;
                }
            } catch (ArithmeticException | NumberFormatException e) {
                // not an integer: refused below
            }
        }
        throw new IllegalArgumentException(tokenizerJson + ": " + what + " must be a token id (an integer from 0 to "
                + (Integer.MAX_VALUE - 1) + "), got " + id);
    }

    /** {@inheritDoc} */
    @Override
    public long[] encode(String text) {
        return text.isEmpty() ? new long[0] : tokenizer.encode(text, false, false).getIds();
    }

    /** {@inheritDoc} */
    @Override
    public String decode(long[] ids) {
        return ids.length == 0 ? "" : tokenizer.decode(ids, false);
    }

    /** {@inheritDoc} */
    @Override
    public int vocabularySize() {
        return vocabularySize;
    }

    /** {@inheritDoc} */
    @Override
    public OptionalLong endOfText() {
        return endOfText;
    }

    /** Frees the tokenizer's native memory. */
    @Override
    public void close() {
        tokenizer.close();
    }
}
