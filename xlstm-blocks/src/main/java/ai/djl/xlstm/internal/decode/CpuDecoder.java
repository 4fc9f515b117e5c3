package ai.djl.xlstm.internal.decode;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.config.XLstmLmConfig;
import ai.djl.xlstm.io.ParameterNames;
import ai.djl.xlstm.model.XLstmBlockStack;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.WeakHashMap;

/**
 * A batch-1 decode step of an xLSTM language model (NeurIPS or xLSTM Large) in Java, on a copy
 * of the model's weights: one call of {@link #step} runs the embedding, every block, the final
 * norm, the head and the logits' soft cap (if any) for one token, on {@code float[]} arrays, with the Vector API for the matrix-vector
 * products where {@code jdk.incubator.vector} is in the boot layer. It computes what
 * {@code model.forward(ps, token[1, 1], state, false)} computes on libtorch, without one native
 * call per tensor operation.
 *
 * <p>The prompt is still prefilled on libtorch; {@link #state(XLstmState)} copies the state that
 * leaves, and {@link #toXLstmState} hands a state back. The decoder is immutable and may be shared
 * by threads, each with its own {@link State}. The weights are a snapshot taken by {@link #of}:
 * changes to the model afterwards (training) are not seen.
 *
 * <p>Weights: a float32 model's are copied as float32; a float16 model's large matrices (the
 * embedding, the head and the blocks' projections) are copied as their float16 bits and widened
 * inside the products, so the decoder holds and reads half the bytes, and computes what libtorch
 * computes in float32 from the same values widened. Norms, biases and the other small weights are
 * float32 either way.
 */
public final class CpuDecoder {

    /**
     * The system property that, set to {@code true}, keeps all inference on libtorch: no CPU
     * decode step and no sLSTM scan on the heap ({@code -Dai.djl.xlstm.decode.libtorch=true}), for
     * comparisons and benchmarks.
     */
    public static final String LIBTORCH_ONLY = "ai.djl.xlstm.decode.libtorch";

    private final Kernels kernels;
    private final XLstmBlockStack stack; // not the model: the cache of current() holds decoders weakly by model
    private final int vocab;
    private final int dim;
    private final Matrix embedding; // [V, D]
    private final Matrix head; // [V, D]: the embedding itself where the weights are tied
    private final float[] postNorm; // NeurIPS: [D] 1 + w of the post-blocks layer norm, or null
    private final float[] outNorm; // Large: [D] the out_norm RMS norm's weight, or null
    private final float[] outNormBias; // Large: [D] or null
    private final float outNormEps;
    private final float logitSoftCap; // 0: none
    private final BlockStep[] blocks;
    private final long[][] stateShapes; // of XLstmState.toNDList() at batch 1
    private final float[][] zeroState;
    private final Scratch scratch; // a template: each state gets fresh arrays of its lengths

    /**
     * Whether {@value #LIBTORCH_ONLY} is set to {@code true}.
     *
     * @return whether inference must stay on libtorch
     */
    public static boolean libtorchOnly() {
        return Boolean.getBoolean(LIBTORCH_ONLY);
    }

    private CpuDecoder(Kernels kernels, XLstmLanguageModel model, XLstmLmConfig c) {
        this.kernels = kernels;
        this.stack = model.getStack();
        Weights w = new Weights(ParameterNames.of(model));
        vocab = c.vocabSize();
        dim = c.embeddingDim();
        embedding = w.matrix("token_embedding.weight", vocab, dim);
        head = c.tieWeights() ? embedding : w.matrix("lm_head.weight", vocab, dim);
        postNorm = c.addPostBlocksNorm() ? w.onePlus("xlstm_block_stack.post_blocks_norm.weight", dim) : null;
        outNorm = null;
        outNormBias = null;
        outNormEps = 0;
        logitSoftCap = 0;
        blocks = new BlockStep[c.numBlocks()];
        for (int i = 0; i < blocks.length; i++) {
            String prefix = "xlstm_block_stack.blocks." + i + ".";
            blocks[i] = c.isSLstmBlock(i)
                    ? new SLstmStep(kernels, c.slstm(), c.feedforward(), w, prefix)
                    : new MLstmStep(kernels, c.mlstm(), w, prefix);
        }
        boolean hasM = c.numBlocks() > c.slstmAt().size();
        boolean hasS = !c.slstmAt().isEmpty();
        scratch = Scratch.neurips(
                dim,
                hasM ? c.mlstm().innerDim() : 0,
                hasS ? c.feedforward().projUpDim() : 0,
                hasM ? c.mlstm().numHeads() : 0,
                hasS ? c.slstm().headDim() : 0);
        ZeroState zero = zeroState(model);
        zeroState = zero.values();
        stateShapes = zero.shapes();
        checkStateArrays();
    }

    private CpuDecoder(Kernels kernels, XLstmLanguageModel model, XLstmLargeConfig c) {
        this.kernels = kernels;
        this.stack = model.getStack();
        Weights w = new Weights(ParameterNames.of(model));
        vocab = c.vocabSize();
        dim = c.embeddingDim();
        embedding = w.matrix("embedding.weight", vocab, dim);
        head = w.matrix("lm_head.weight", vocab, dim);
        postNorm = null;
        outNorm = c.addOutNorm() ? w.get("backbone.out_norm.weight", dim) : null;
        outNormBias = c.addOutNorm() ? w.optional("backbone.out_norm.bias", dim) : null;
        outNormEps = c.normEps();
        logitSoftCap = c.outputLogitSoftCap();
        blocks = new BlockStep[c.numBlocks()];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = new LargeBlockStep(kernels, c, w, "backbone.blocks." + i + ".");
        }
        scratch = Scratch.large(dim, LargeBlockStep.upLength(c), Math.max(c.vDim(), c.ffnUpDim()),
                c.qkDim() / c.numHeads());
        ZeroState zero = zeroState(model);
        zeroState = zero.values();
        stateShapes = zero.shapes();
        checkStateArrays();
    }

    /** The model's zero state at batch 1, in {@code XLstmState.toNDList()} order: values and shapes. */
    private record ZeroState(float[][] values, long[][] shapes) {}

    private static ZeroState zeroState(XLstmLanguageModel model) {
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            NDList zero = model.zeroState(manager, Device.cpu(), 1).toNDList();
            float[][] values = new float[zero.size()][];
            long[][] shapes = new long[zero.size()][];
            for (int i = 0; i < zero.size(); i++) {
                values[i] = zero.get(i).toFloatArray();
                shapes[i] = zero.get(i).getShape().getShape();
            }
            return new ZeroState(values, shapes);
        }
    }

    private void checkStateArrays() {
        int arrays = 0;
        for (BlockStep b : blocks) {
            arrays += b.stateArrays();
        }
        if (arrays != stateShapes.length) {
            throw new IllegalStateException(
                    "the CPU decoder counts " + arrays + " state arrays, the model " + stateShapes.length);
        }
    }

    /**
     * A CPU decoder for {@code model}, or empty where there is none: for parameters that are not
     * float32 or float16 on the CPU (both architectures, NeurIPS xLSTM and xLSTM Large, are
     * supported), or float16 weights with an infinity or a NaN. The
     * weights are copied now, with the Vector API kernels where the module {@code
     * jdk.incubator.vector} is in the boot layer and plain Java otherwise.
     *
     * @param model an initialized model
     * @return the decoder, or empty where the model is not supported
     * @throws IllegalArgumentException if the model is not initialized
     */
    public static Optional<CpuDecoder> of(XLstmLanguageModel model) {
        return of(model, Kernels.preferred(), availableHeap());
    }

    /**
     * {@link #of(XLstmLanguageModel, Kernels)} where the weights' copy (of their bytes) fits in {@code
     * heapBytes} with a margin, else empty: a model too large for the JVM's heap decodes on
     * libtorch instead of failing with an {@code OutOfMemoryError} (say once in the log).
     */
    static Optional<CpuDecoder> of(XLstmLanguageModel model, Kernels kernels, long heapBytes) {
        long need = 0;
        for (ai.djl.nn.Parameter p : ParameterNames.of(model).values()) {
            if (!p.isInitialized()) {
                return of(model, kernels); // which names the uninitialized model
            }
            need += p.getArray().size() * p.getArray().getDataType().getNumOfBytes();
        }
        need += need / 4 + (64L << 20); // fused copies, work arrays, and a margin
        if (need > heapBytes) {
            if (!HEAP_WARNED.getAndSet(true)) {
                LOG.warn("The CPU decode step needs about {} MiB of Java heap for this model's weights, {} MiB "
                        + "are free: decoding runs on libtorch (raise -Xmx to use it)", need >> 20, heapBytes >> 20);
            }
            return Optional.empty();
        }
        return of(model, kernels);
    }

    /** The Java heap that could still be allocated. */
    private static long availableHeap() {
        Runtime r = Runtime.getRuntime();
        return r.maxMemory() - (r.totalMemory() - r.freeMemory());
    }

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CpuDecoder.class);
    private static final java.util.concurrent.atomic.AtomicBoolean HEAP_WARNED =
            new java.util.concurrent.atomic.AtomicBoolean();

    /** The decoder of each model at the weights version it was built from. */
    private static final Map<XLstmLanguageModel, Built> BUILT = new WeakHashMap<>();

    private record Built(long version, Optional<CpuDecoder> decoder) {}

    /**
     * The decoder of {@code model}'s current weights, built once per {@link
     * XLstmLanguageModel#getWeightsVersion() weights version} and shared: a training step or new
     * weights rebuild it at the next call.
     *
     * @param model an initialized model
     * @return the decoder, or empty where the model is not supported (see {@link #of})
     */
    public static Optional<CpuDecoder> current(XLstmLanguageModel model) {
        synchronized (BUILT) {
            long version = model.getWeightsVersion();
            Built built = BUILT.get(model);
            if (built == null || built.version() != version) {
                BUILT.remove(model); // the old copy of the weights goes before the new one is made
                built = new Built(version, of(model));
                BUILT.put(model, built);
            }
            return built.decoder();
        }
    }

    static Optional<CpuDecoder> of(XLstmLanguageModel model, Kernels kernels) {
        if (model == null) {
            throw new IllegalArgumentException("model must not be null");
        }
        if (!new Weights(ParameterNames.of(model)).allOnCpuInSupportedTypes()) {
            return Optional.empty();
        }
        try {
            if (model.getConfig() instanceof XLstmLmConfig c) {
                return Optional.of(new CpuDecoder(kernels, model, c));
            }
            if (model.getConfig() instanceof XLstmLargeConfig c) {
                return Optional.of(new CpuDecoder(kernels, model, c));
            }
        } catch (Matrix.NonFiniteHalfException e) {
            LOG.warn("No CPU decode step for this model: {}; decoding runs on libtorch", e.getMessage());
        }
        return Optional.empty();
    }

    /** Whether the matrix-vector products run on the Vector API (else plain Java loops). */
    public boolean vectorized() {
        return kernels instanceof VectorKernels;
    }

    /** The kernels in use, for reports: for example {@code vector(16 floats)} or {@code scalar}. */
    public String kernels() {
        return kernels.name();
    }

    /** Whether the large matrices are held as float16 (the model's weights are float16). */
    boolean halfWeights() {
        return embedding.isHalf();
    }

    /**
     * The bytes of the weight matrices read per step (the embedding counts once, tied or not).
     *
     * @return the bytes
     */
    public long weightBytes() {
        long bytes = embedding.bytes() + (head == embedding ? 0 : head.bytes());
        for (BlockStep b : blocks) {
            bytes += b.weightBytes();
        }
        return bytes;
    }

    /** The vocabulary size: the length of the logits {@link #step} returns. */
    public int vocabSize() {
        return vocab;
    }

    /**
     * The model's zero state (what a first token starts from).
     *
     * @return a new state
     */
    public State newState() {
        float[][] tensors = new float[zeroState.length][];
        for (int i = 0; i < tensors.length; i++) {
            tensors[i] = zeroState[i].clone();
        }
        return new State(this, tensors);
    }

    /**
     * A copy of a libtorch state of batch 1 (what a prefill returns), to continue decoding here.
     *
     * @param state a state of this model at batch 1
     * @return a new state
     * @throws IllegalArgumentException if the state is not of this model's shapes at batch 1
     */
    public State state(XLstmState state) {
        long batch = state.toNDList().get(0).getShape().get(0);
        if (batch != 1) {
            throw new IllegalArgumentException("state has a batch of " + batch + ", expected batch 1");
        }
        return states(state)[0];
    }

    /**
     * Copies of each row of a libtorch state of batch B, to continue decoding here.
     *
     * @param state a state of this model
     * @return B new states, in row order
     * @throws IllegalArgumentException if the state is not of this model's shapes
     */
    public State[] states(XLstmState state) {
        NDList arrays = state.toNDList();
        if (arrays.size() != stateShapes.length) {
            throw new IllegalArgumentException(
                    "state has " + arrays.size() + " arrays, this model's has " + stateShapes.length);
        }
        long batch = arrays.get(0).getShape().get(0);
        float[][][] rows = new float[(int) batch][arrays.size()][];
        for (int i = 0; i < arrays.size(); i++) {
            NDArray a = arrays.get(i);
            long[] shape = a.getShape().getShape();
            long[] one = shape.clone();
            one[0] = 1;
            if (shape[0] != batch || !Arrays.equals(one, stateShapes[i])) {
                throw new IllegalArgumentException("state array " + i + " has shape " + a.getShape()
                        + ", expected " + new Shape(stateShapes[i]) + " with a batch of " + batch);
            }
            float[] all = a.getDataType() == DataType.FLOAT32
                    ? a.toFloatArray()
                    : a.toType(DataType.FLOAT32, false).toFloatArray();
            int size = all.length / (int) batch;
            for (int b = 0; b < batch; b++) {
                rows[b][i] = Arrays.copyOfRange(all, b * size, (b + 1) * size);
            }
        }
        State[] out = new State[(int) batch];
        for (int b = 0; b < batch; b++) {
            out[b] = new State(this, rows[b]);
        }
        return out;
    }

    /**
     * States of this decoder as one libtorch state of batch {@code states.length} in {@code
     * manager} (rows in order), to continue on the libtorch path.
     *
     * @param states states of this decoder
     * @param manager where the arrays go
     * @return a new {@link XLstmState}
     */
    public XLstmState toXLstmState(State[] states, NDManager manager) {
        int batch = states.length;
        for (State s : states) {
            check(s);
        }
        List<NDArray> arrays = new ArrayList<>(stateShapes.length);
        for (int i = 0; i < stateShapes.length; i++) {
            int size = zeroState[i].length;
            float[] all = new float[batch * size];
            for (int b = 0; b < batch; b++) {
                System.arraycopy(states[b].tensors[i], 0, all, b * size, size);
            }
            long[] shape = stateShapes[i].clone();
            shape[0] = batch;
            try (NDArray borrowed = manager.create(all, new Shape(shape))) {
                arrays.add(borrowed.duplicate()); // owns its memory, as TensorOps.owned
            }
        }
        return stack.stateOf(arrays);
    }

    /**
     * The state as libtorch arrays in {@code manager}, to continue on the libtorch path.
     *
     * @param state a state of this decoder
     * @param manager where the arrays go
     * @return a new {@link XLstmState} of batch 1
     */
    public XLstmState toXLstmState(State state, NDManager manager) {
        return toXLstmState(new State[] {state}, manager);
    }

    /**
     * One decode step: feeds {@code token}, updates {@code state} in place and returns the logits
     * of the next token.
     *
     * @param token a token id in {@code [0, vocabSize())}
     * @param state a state of this decoder, updated
     * @return a new array of {@link #vocabSize()} logits
     * @throws IllegalArgumentException if the token is outside the vocabulary or the state is not
     *     of this decoder
     */
    public float[] step(int token, State state) {
        return step(new int[] {token}, new State[] {state});
    }

    /**
     * One decode step of a batch: feeds {@code tokens[b]} to {@code states[b]}, updates the states
     * in place and returns the logits of the next tokens, row after row ({@code [B * V]}). Each
     * weight matrix is read once for the whole batch; a row computes exactly what a batch of one
     * computes.
     *
     * @param tokens token ids in {@code [0, vocabSize())}, one per row
     * @param states states of this decoder, one per row, all distinct, updated
     * @return a new array of {@code B * vocabSize()} logits
     * @throws IllegalArgumentException if a token is outside the vocabulary, the counts differ, or a
     *     state is not of this decoder or appears twice
     */
    public float[] step(int[] tokens, State[] states) {
        int batch = tokens.length;
        if (batch == 0 || states.length != batch) {
            throw new IllegalArgumentException(batch + " tokens for " + states.length + " states");
        }
        float[][] xs = new float[batch][];
        float[][][] tensors = new float[batch][][];
        Scratch[] scratch = new Scratch[batch];
        for (int b = 0; b < batch; b++) {
            if (tokens[b] < 0 || tokens[b] >= vocab) {
                throw new IllegalArgumentException(
                        "token id " + tokens[b] + " (row " + b + ") is outside the vocabulary [0, " + vocab + ")");
            }
            check(states[b]);
            for (int p = 0; p < b; p++) { // at most 64 rows: no set allocated per step
                if (states[p] == states[b]) {
                    throw new IllegalArgumentException("state of row " + b + " also appears in row " + p);
                }
            }
            xs[b] = states[b].x; // [D] the residual stream
            tensors[b] = states[b].tensors;
            scratch[b] = states[b].scratch;
            embedding.row(tokens[b], xs[b], 0);
        }
        int first = 0;
        for (BlockStep block : blocks) {
            block.step(xs, tensors, first, scratch, batch);
            first += block.stateArrays();
        }
        float[][] logits = new float[batch][vocab];
        for (int b = 0; b < batch; b++) {
            float[] x = xs[b];
            if (postNorm != null) {
                Elementwise.layerNorm(x, 0, dim, 1e-5f, postNorm, 0, x, 0);
            }
            if (outNorm != null) {
                Elementwise.rmsNorm(x, 0, dim, outNormEps, outNorm, outNormBias, x);
            }
        }
        kernels.matMat(head, xs, 0, logits, 0, batch);
        float[] out = new float[batch * vocab];
        for (int b = 0; b < batch; b++) {
            if (logitSoftCap > 0) {
                for (int i = 0; i < vocab; i++) {
                    logits[b][i] = Elementwise.softCap(logits[b][i], logitSoftCap);
                }
            }
            System.arraycopy(logits[b], 0, out, b * vocab, vocab);
        }
        return out;
    }

    private void check(State state) {
        if (state == null) {
            throw new IllegalArgumentException("state must not be null");
        }
        if (state.owner != this) {
            throw new IllegalArgumentException("state was made by another CPU decoder");
        }
    }

    /**
     * The recurrent state of one sequence as float arrays, in the order and shapes of
     * {@link XLstmState#toNDList()} at batch 1, with the work arrays of a step. Not thread-safe:
     * one state per sequence and thread.
     */
    public static final class State {
        private final CpuDecoder owner;
        private final float[][] tensors;
        private final float[] x;
        private final Scratch scratch;

        private State(CpuDecoder owner, float[][] tensors) {
            this.owner = owner;
            this.tensors = tensors;
            this.x = new float[owner.dim];
            this.scratch = owner.scratch.fresh();
        }

        /**
         * A copy of this state (for example to branch a sequence).
         *
         * @return a new state of the same decoder
         */
        public State copy() {
            float[][] t = new float[tensors.length][];
            for (int i = 0; i < t.length; i++) {
                t[i] = tensors[i].clone();
            }
            return new State(owner, t);
        }
    }
}
