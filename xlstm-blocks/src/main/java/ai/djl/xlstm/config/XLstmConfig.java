package ai.djl.xlstm.config;

import com.google.gson.Gson;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** A model config of either architecture: the NeurIPS xLSTM LM or xLSTM Large. */
public sealed interface XLstmConfig permits XLstmLmConfig, XLstmLargeConfig {

    /** The vocabulary size V. */
    int vocabSize();

    /** The model dimension D. */
    int embeddingDim();

    /** The number of residual blocks. */
    int numBlocks();

    /** {@code xlstm-neurips} or {@code xlstm-large}, as in {@code config.json}'s architecture. */
    String architecture();

    /**
     * The config as upstream field names and values (nested sections as upstream's NeurIPS
     * {@code config.json}), plus {@code architecture}; {@link ConfigFiles#fromMap} reads it back.
     */
    java.util.Map<String, Object> toUpstreamMap();

    /**
     * A stable hash of every field, identifying the model shape (used to refuse a saved state or
     * checkpoint that belongs to another model).
     */
    default String fingerprint() {
        try {
            byte[] json = new Gson().toJson(this).getBytes(StandardCharsets.UTF_8);
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(json);
            return architecture() + ":" + HexFormat.of().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
