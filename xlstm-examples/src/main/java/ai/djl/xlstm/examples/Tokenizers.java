package ai.djl.xlstm.examples;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loading Hugging Face {@code tokenizer.json} files the way our applications need them. */
final class Tokenizers {

    private Tokenizers() {}

    /**
     * A tokenizer for whole texts: no truncation (the default truncates at 512 tokens) and no
     * added special tokens.
     */
    static HuggingFaceTokenizer forCorpus(Path tokenizerJson) throws IOException {
        return HuggingFaceTokenizer.builder()
                .optTokenizerPath(tokenizerJson)
                .optTruncation(false)
                .optAddSpecialTokens(false)
                .build();
    }

    /** The number of token ids {@code tokenizer.json} can produce: its vocabulary and added tokens. */
    static int vocabularySize(Path tokenizerJson) throws IOException {
        JsonObject root;
        try {
            root = new Gson().fromJson(Files.readString(tokenizerJson, StandardCharsets.UTF_8), JsonObject.class);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(tokenizerJson + " is not a tokenizer.json: " + e.getMessage(), e);
        }
        int size = 0;
        JsonObject model = root == null ? null : root.getAsJsonObject("model");
        if (model != null && model.get("vocab") != null && model.get("vocab").isJsonObject()) {
            for (var e : model.getAsJsonObject("vocab").entrySet()) {
                size = Math.max(size, e.getValue().getAsInt() + 1);
            }
        } else if (model != null && model.get("vocab") != null && model.get("vocab").isJsonArray()) {
            size = model.getAsJsonArray("vocab").size(); // Unigram
        } else {
            throw new IllegalArgumentException(tokenizerJson + " has no model.vocab: not a tokenizer.json");
        }
        if (root.get("added_tokens") != null && root.get("added_tokens").isJsonArray()) {
            for (JsonElement t : root.getAsJsonArray("added_tokens")) {
                size = Math.max(size, t.getAsJsonObject().get("id").getAsInt() + 1);
            }
        }
        return size;
    }
}
