package ai.djl.xlstm.config;

import com.google.gson.Gson;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
 *
 * <p>A config is read from a file or a checkpoint folder ({@link #read}), built from upstream
 * field names ({@link #fromMap}), or constructed directly as an {@link XLstmLmConfig} or {@link
 * XLstmLargeConfig}; {@link #write} saves it as {@code config.json}, which {@link #read} reads back
 * to an equal config.
 *
 * <p>The architecture of a file or map comes from the field {@code architecture} ({@code
 * xlstm-neurips} or {@code xlstm-large}) when present; otherwise it is recognized from upstream
 * fields: Hugging Face's {@code model_type: xlstm} and xLSTM Large's {@code qk_dim_factor} mean
 * xLSTM Large, the NeurIPS sections ({@code mlstm}, {@code slstm}, {@code mlstm_block}, {@code
 * slstm_block}, {@code slstm_at}) mean the NeurIPS model.
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
     * {@code config.json}), plus {@code architecture}; {@link #fromMap} reads it back.
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

    /**
     * Reads a config file, or the config file of a checkpoint folder: {@code config.json}, else
     * {@code config.yaml}, else {@code config.yml}. A file is JSON, or YAML when its name ends in
     * {@code .yaml}/{@code .yml}; fields have upstream (or Hugging Face) names.
     *
     * @param fileOrFolder a config file, or a checkpoint folder holding one (a training run's folder
     *     is not resolved to its latest checkpoint here: see {@link ai.djl.xlstm.io.UpstreamCheckpoint#resolveFolder})
     * @return the config of the architecture the file describes
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if a folder holds no config file, or the file is not UTF-8
     *     JSON/YAML, names no known architecture, or holds a value out of its bounds; the message
     *     names the file and the field
     */
    static XLstmConfig read(Path fileOrFolder) throws IOException {
        return Files.isDirectory(fileOrFolder) ? ConfigFiles.readFolder(fileOrFolder) : ConfigFiles.read(fileOrFolder);
    }

    /**
     * Builds the config of the architecture that {@code map} describes, from upstream (or Hugging
     * Face) field names and values as a parsed {@code config.json} holds them: numbers of any
     * {@link Number} type, sections as nested maps. Absent fields take upstream's defaults.
     *
     * @param map the fields by name; not modified
     * @return the config
     * @throws IllegalArgumentException if the map names no known architecture, lacks a required
     *     field, or holds a value of the wrong type or out of its bounds; the message names the field
     */
    static XLstmConfig fromMap(Map<String, Object> map) {
        return ConfigFiles.fromMap(map);
    }

    /**
     * Writes this config to {@code file} as pretty-printed JSON with upstream field names ({@link
     * #toUpstreamMap}), replacing the file atomically if it exists (a crash leaves the old file or the
     * new one, never a part); {@link #read} reads it back to an equal
     * config. The name a checkpoint folder's loaders look for is {@code config.json}.
     *
     * @param file the file to write; its folder must exist
     * @throws IOException if the file cannot be written
     */
    default void write(Path file) throws IOException {
        ConfigFiles.write(this, file);
    }
}
