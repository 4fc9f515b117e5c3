package ai.djl.xlstm.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.io.SafeTensors;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * One conversation with a model: the recurrent state after every token seen so far, those tokens,
 * and the logits of the next token. It never grows with the conversation except by its token
 * list (8 bytes a token, kept for the repetition penalty and for detokenization).
 *
 * <p>A session saves to one safetensors file holding the state tensors, the next-token logits, the
 * token ids, the model's {@link XLstmConfig#fingerprint() fingerprint} (its config), a hash of the
 * model's weights and a checksum of the tensors; {@link #load} refuses a file written by a model
 * with another config or other weights, a file whose tensors do not match their checksum
 * (corrupted), and a state that is not finite, so a restored session continues exactly where it
 * stopped, in this process or another one.
 *
 * <p>The weights hash (see {@code TensorDigest}) is computed once per {@link Generator}, the
 * first time one of its sessions is saved or loaded, and then reused: hashing every weight costs
 * a pass over the whole model, too much for every save. A generator therefore assumes that its
 * model's weights no longer change; after changing them in the same JVM (training further,
 * loading other weights), create a new {@link Generator} before saving or loading sessions,
 * otherwise a session saved later records the weights the old generator hashed. The static
 * {@link #create} and {@link #load} have no generator to share a hash with: each session they
 * return hashes the weights itself, at most once.
 *
 * <p>The state lives in a sub-manager of the manager the session was created with; {@link
 * #close()} frees it. A session is not thread-safe.
 */
public final class GenerationSession implements AutoCloseable {

    static final String FORMAT = "xlstm-session";
    /** Version 2 added the {@code weights} hash and the {@code checksum} of the tensors. */
    static final String VERSION = "2";

    private final XLstmLanguageModel model;
    /** The hash of the model's weights, computed on first use (shared by a generator's sessions). */
    private final Supplier<String> weightsHash;
    private final NDManager parent;
    private NDManager manager;
    private XLstmState state;
    private float[] nextLogits;
    private long[] tokens = new long[0];

    GenerationSession(XLstmLanguageModel model, Supplier<String> weightsHash, NDManager parent) {
        this.model = model;
        this.weightsHash = weightsHash;
        this.parent = parent;
        this.manager = parent.newSubManager();
    }

    /**
     * An empty session (no tokens seen) of {@code model}, its state kept in a sub-manager of {@code
     * manager}. Prefer {@link Generator#newSession()}, whose sessions share one weights hash.
     *
     * @param model the model (initialized)
     * @param manager the manager whose sub-manager holds the state
     * @return the session; the caller closes it
     */
    public static GenerationSession create(XLstmLanguageModel model, NDManager manager) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(manager, "manager");
        return new GenerationSession(model, TensorDigest.weightsOnce(model), manager);
    }

    /**
     * The model this session belongs to.
     *
     * @return the model
     */
    public XLstmLanguageModel getModel() {
        return model;
    }

    /**
     * Whether the session has seen no token yet.
     *
     * @return whether no token was seen
     */
    public boolean isEmpty() {
        return state == null;
    }

    /**
     * Every token the state has consumed, in order.
     *
     * @return a copy of the token ids
     */
    public long[] tokens() {
        return tokens.clone();
    }

    /**
     * How many tokens the state has consumed.
     *
     * @return the number of tokens consumed
     */
    public int length() {
        return tokens.length;
    }

    /**
     * The state after the last token (batch size 1), or null for an empty session.
     *
     * @return the state, or null
     */
    public XLstmState state() {
        return state;
    }

    /**
     * The logits {@code [V]} of the token after the last one, or null for an empty session.
     *
     * @return a copy of the logits, or null
     */
    public float[] nextLogits() {
        return nextLogits == null ? null : nextLogits.clone();
    }

    float[] nextLogitsView() {
        return nextLogits;
    }

    long[] tokensView() {
        return tokens;
    }

    /**
     * Moves the session past {@code consumed}: {@code newState} (batch 1) is the state after them
     * and {@code logits} the next-token logits. The new state's arrays move to a fresh sub-manager;
     * the old state's manager is closed.
     */
    void advance(XLstmState newState, float[] logits, long[] consumed) {
        NDManager next = parent.newSubManager();
        newState.attach(next);
        manager.close();
        manager = next;
        state = newState;
        nextLogits = logits;
        long[] all = Arrays.copyOf(tokens, tokens.length + consumed.length);
        System.arraycopy(consumed, 0, all, tokens.length, consumed.length);
        tokens = all;
    }

    /** Forgets everything: the session is empty again. */
    public void reset() {
        manager.close();
        manager = parent.newSubManager();
        state = null;
        nextLogits = null;
        tokens = new long[0];
    }

    /**
     * Writes the session to {@code file} (safetensors; replaced atomically, so a crash never leaves
     * a half-written session), with the weights hash and a checksum of the tensors.
     *
     * @param file the file to write
     * @throws IllegalStateException if the session is empty, or its state or logits are not finite
     *     (such a session could not be loaded back)
     * @throws IOException if the file cannot be written
     */
    public void save(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        if (state == null) {
            throw new IllegalStateException("the session is empty: nothing to save to " + file);
        }
        try (NDManager scratch = manager.newSubManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            NDList list = state.toNDList();
            for (int i = 0; i < list.size(); i++) {
                tensors.put("state." + i, list.get(i));
            }
            tensors.put("logits", scratch.create(nextLogits));
            tensors.put("tokens", scratch.create(tokens));
            for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
                String problem = nonFinite(e.getKey(), e.getValue());
                if (problem != null) {
                    throw new IllegalStateException("cannot save the session to " + file + ": " + problem);
                }
            }
            XLstmConfig config = model.getConfig();
            Map<String, String> metadata = new LinkedHashMap<>();
            metadata.put("format", FORMAT);
            metadata.put("version", VERSION);
            metadata.put("model", config.fingerprint());
            metadata.put("architecture", config.architecture());
            metadata.put("weights", weightsHash.get());
            metadata.put("checksum", checksum(tensors));
            Path dir = file.toAbsolutePath().getParent();
            if (dir != null) {
                Files.createDirectories(dir);
            }
            Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
            try {
                SafeTensors.save(tmp, tensors, metadata);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /**
     * Restores a session saved by {@link #save}. Every tensor's name, type and shape is checked
     * against the model before any data is read; then the tensors are checked against the
     * checksum saved with them, and the state and logits must be finite. Prefer {@link
     * Generator#loadSession}, which hashes the model's weights once for all its sessions.
     *
     * @param file a file written by {@link #save}
     * @param model the model the session must belong to
     * @param manager the manager whose sub-manager will hold the state
     * @return the restored session; the caller closes it
     * @throws IllegalArgumentException if the file is not a session file, belongs to another model
     *     (another config fingerprint) or to the same config with other weights, is corrupted (its
     *     tensors do not match their checksum), or holds tensors of the wrong shape, a state or
     *     logits that are not finite, or token ids outside the vocabulary
     * @throws IOException if the file cannot be read
     */
    public static GenerationSession load(Path file, XLstmLanguageModel model, NDManager manager) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(manager, "manager");
        return load(file, model, TensorDigest.weightsOnce(model), manager);
    }

    /** As {@link #load(Path, XLstmLanguageModel, NDManager)}, with the model's weights hash. */
    static GenerationSession load(Path file, XLstmLanguageModel model, Supplier<String> weightsHash, NDManager manager)
            throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("session file not found: " + file);
        }
        Map<String, String> metadata = SafeTensors.readMetadata(file);
        if (!FORMAT.equals(metadata.get("format"))) {
            throw new IllegalArgumentException(file + " is not an xLSTM session file (metadata format is "
                    + metadata.get("format") + ", expected " + FORMAT + ")");
        }
        if (!VERSION.equals(metadata.get("version"))) {
            throw new IllegalArgumentException(file + " is a session file of version " + metadata.get("version")
                    + "; this library reads version " + VERSION);
        }
        String expected = model.getConfig().fingerprint();
        if (!expected.equals(metadata.get("model"))) {
            throw new IllegalArgumentException("the state in " + file + " belongs to model " + metadata.get("model")
                    + ", not to this model (" + expected + "): a state only continues the model that produced it");
        }
        String saved = metadata.get("weights");
        if (saved == null) {
            throw new IllegalArgumentException(file + " is corrupted: its metadata has no weights hash");
        }
        String weights = weightsHash.get();
        if (!weights.equals(saved)) {
            throw new IllegalArgumentException("the session in " + file + " was saved from a model with other weights"
                    + " than this one (same config " + expected + ", weights hash " + abbreviate(saved) + " vs "
                    + abbreviate(weights) + "): a state only continues the weights that produced it");
        }
        String checksum = metadata.get("checksum");
        if (checksum == null) {
            throw new IllegalArgumentException(file + " is corrupted: its metadata has no checksum");
        }
        Map<String, SafeTensors.TensorInfo> header = SafeTensors.readHeader(file);
        int vocab = model.getConfig().vocabSize();
        GenerationSession session = new GenerationSession(model, weightsHash, manager);
        try (NDManager scratch = manager.newSubManager()) {
            NDList zero = model.zeroState(scratch, manager.getDevice(), 1).toNDList();
            Map<String, Shape> shapes = new LinkedHashMap<>();
            for (int i = 0; i < zero.size(); i++) {
                shapes.put("state." + i, zero.get(i).getShape());
            }
            shapes.put("logits", new Shape(vocab));
            if (!header.keySet().containsAll(shapes.keySet()) || header.size() != shapes.size() + 1
                    || !header.containsKey("tokens")) {
                throw new IllegalArgumentException(file + " holds tensors " + header.keySet() + ", expected "
                        + shapes.keySet() + " and tokens");
            }
            for (Map.Entry<String, Shape> e : shapes.entrySet()) {
                SafeTensors.TensorInfo info = header.get(e.getKey());
                if (!"F32".equals(info.dtype()) || !new Shape(info.shape()).equals(e.getValue())) {
                    throw new IllegalArgumentException(file + ": tensor " + e.getKey() + " is " + info.dtype() + " "
                            + new Shape(info.shape()) + ", this model needs F32 " + e.getValue());
                }
            }
            SafeTensors.TensorInfo tok = header.get("tokens");
            if (!"I64".equals(tok.dtype()) || tok.shape().length != 1) {
                throw new IllegalArgumentException(file + ": tensor tokens must be I64 of rank 1, got " + tok.dtype()
                        + " " + new Shape(tok.shape()));
            }
            Map<String, NDArray> loaded = SafeTensors.load(file, scratch);
            if (!checksum.equals(checksum(loaded))) {
                throw new IllegalArgumentException(file + " is corrupted: its tensors do not match the checksum saved"
                        + " with them (a changed byte in the state, logits or tokens)");
            }
            for (Map.Entry<String, NDArray> e : loaded.entrySet()) {
                String problem = nonFinite(e.getKey(), e.getValue());
                if (problem != null) {
                    throw new IllegalArgumentException(file + ": " + problem);
                }
            }
            long[] ids = loaded.get("tokens").toLongArray();
            validateIds(ids, vocab, file + ": saved");
            NDList stateTensors = new NDList();
            for (int i = 0; i < zero.size(); i++) {
                stateTensors.add(loaded.get("state." + i).toDevice(manager.getDevice(), false));
            }
            XLstmState state = model.stateOf(List.copyOf(stateTensors));
            session.advance(state, loaded.get("logits").toFloatArray(), ids);
        } catch (RuntimeException | IOException e) {
            session.close();
            throw e;
        }
        return session;
    }

    /** Frees the state. */
    @Override
    public void close() {
        manager.close();
        state = null;
    }

    /** The checksum of a session file's tensors, in file order. */
    static String checksum(Map<String, NDArray> tensors) {
        TensorDigest digest = new TensorDigest();
        tensors.forEach(digest::add);
        return digest.hex();
    }

    /** Describes the first NaN or infinity of a float32 tensor, or returns null if there is none. */
    private static String nonFinite(String name, NDArray array) {
        if (array.getDataType() != DataType.FLOAT32) {
            return null;
        }
        float[] values = array.toFloatArray();
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                return "tensor " + name + " " + array.getShape() + " holds " + values[i] + " at flat index " + i
                        + "; a session's state and logits must be finite";
            }
        }
        return null;
    }

    /** The first 16 hex digits of a hash, for messages. */
    private static String abbreviate(String hash) {
        return hash.length() <= 16 ? hash : hash.substring(0, 16) + "...";
    }

    /** Checks that {@code tokens} are ids of this session's model. */
    static void validateIds(long[] ids, int vocab, String what) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException(what + " token id " + ids[i] + " at position " + i
                        + " is outside the model's vocabulary [0, " + vocab + ")");
            }
        }
    }
}
