package ai.djl.xlstm.config;

import com.google.gson.Gson;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * A model config of either architecture: the NeurIPS xLSTM LM or xLSTM Large.
 *
 * <p>Every value is bounded when a config is constructed (the record constructors are the one
 * place that validates), so that no config, however it was read, can ask for an unbounded number
 * of blocks or dimensions. The bounds leave ample room for real models: xLSTM 7B has vocab_size
 * 50304, embedding_dim 4096, 32 blocks and 8 heads; GPT-2's vocabulary has 50257 tokens.
 */
public sealed interface XLstmConfig permits XLstmLmConfig, XLstmLargeConfig {

    /** The largest {@code vocab_size}: 2^24. */
    int MAX_VOCAB_SIZE = 1 << 24;

    /** The largest {@code embedding_dim}: 2^16. */
    int MAX_EMBEDDING_DIM = 1 << 16;

    /** The largest {@code num_blocks}. */
    int MAX_NUM_BLOCKS = 1024;

    /** The largest {@code context_length}: 2^30 (a recurrent model may well see 1M tokens). */
    int MAX_CONTEXT_LENGTH = 1 << 30;

    /** The largest projection factor ({@code proj_factor}, {@code qk_dim_factor}, ...). */
    double MAX_PROJ_FACTOR = 64;

    /** The largest {@code conv1d_kernel_size}. */
    int MAX_CONV1D_KERNEL_SIZE = 64;

    /** The largest {@code chunk_size} of the chunkwise mLSTM kernel: 2^16. */
    int MAX_CHUNK_SIZE = 1 << 16;

    /** The largest rounding multiple ({@code round_proj_up_to_multiple_of}, ...): 2^16. */
    int MAX_ROUND_UP_TO_MULTIPLE_OF = 1 << 16;

    /**
     * The vocabulary size V.
     *
     * @return V
     */
    int vocabSize();

    /**
     * The model dimension D.
     *
     * @return D
     */
    int embeddingDim();

    /**
     * The number of residual blocks.
     *
     * @return the block count
     */
    int numBlocks();

    /**
     * The number of parameter elements of the model this config builds (the sum of the sizes of
     * all its parameter arrays), in closed form: known before anything is allocated. A tied LM
     * head shares the embedding and adds nothing.
     *
     * @return the parameter element count
     */
    long parameterCount();

    /**
     * {@code xlstm-neurips} or {@code xlstm-large}, as in {@code config.json}'s architecture.
     *
     * @return the architecture name
     */
    String architecture();

    /**
     * The config as upstream field names and values (nested sections as upstream's NeurIPS
     * {@code config.json}), plus {@code architecture}; {@link ConfigFiles#fromMap} reads it back.
     *
     * @return the upstream fields
     */
    Map<String, Object> toUpstreamMap();

    /**
     * A stable hash of every field, identifying the model shape (used to refuse a saved state or
     * checkpoint that belongs to another model).
     *
     * @return the fingerprint, a hex string
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
