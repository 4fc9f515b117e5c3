package ai.djl.xlstm.model;

import ai.djl.Device;
import ai.djl.inference.streaming.StreamingBlock;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import ai.djl.xlstm.components.AbstractXLstmBlock;
import ai.djl.xlstm.internal.Inits;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.components.XLstmBlock;
import ai.djl.xlstm.internal.TensorOps;
import ai.djl.xlstm.internal.WeightTypes;
import ai.djl.xlstm.components.EmbeddingTable;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.config.XLstmLmConfig;
import ai.djl.xlstm.state.BlockState;
import ai.djl.xlstm.state.XLstmState;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An xLSTM language model: token embedding, {@link XLstmBlockStack}, LM head (optionally tied to
 * the embedding) and an optional logit soft cap.
 *
 * <p>The recurrent API is {@link #forward(ParameterStore, NDArray, XLstmState, boolean)}: any
 * number of tokens from any state, so prefill and decode are the same call. Through DJL's {@code
 * Block} API the inputs are {@code [tokens]} (zero state, output {@code [logits]}) or {@code [tokens,
 * state tensors...]} (output {@code [logits, new state tensors...]}, see {@link
 * XLstmState#toNDList()}).
 */
public abstract sealed class XLstmLanguageModel extends AbstractXLstmBlock implements StreamingBlock
        permits XLstmLmModel, XLstmLargeModel {

    private final XLstmConfig config;
    private final EmbeddingTable embedding;
    private final XLstmBlockStack stack;
    private final Linear lmHead;
    private final float logitSoftCap;
    private volatile MLstmForm form;
    private volatile int inferenceSegment = DEFAULT_INFERENCE_SEGMENT;
    private final AtomicLong weightsVersion = new AtomicLong();

    /**
     * The default of {@link #getInferenceSegment()}: as long as the parallel form runs ({@link
     * MLstmForm#MAX_PARALLEL_LENGTH}), so a single sequence the parallel form takes is never cut.
     */
    public static final int DEFAULT_INFERENCE_SEGMENT = MLstmForm.MAX_PARALLEL_LENGTH;

    XLstmLanguageModel(
            byte version, XLstmConfig config, String embeddingName, String stackName,
            XLstmBlockStack stack, boolean tieWeights, float logitSoftCap, MLstmForm form) {
        super(version);
        this.config = config;
        this.embedding =
                addChildBlock(embeddingName, new EmbeddingTable(config.vocabSize(), config.embeddingDim()));
        this.stack = addChildBlock(stackName, stack);
        this.lmHead =
                tieWeights
                        ? null
                        : addLinear("lm_head", config.embeddingDim(), config.vocabSize(), false,
                                Inits.small(config.embeddingDim()), null);
        this.logitSoftCap = logitSoftCap;
        setForm(form);
    }

    /**
     * Creates the model of {@code config}'s architecture, its parameters not yet initialized (call
     * {@code initialize}, or load weights with {@link ai.djl.xlstm.io.UpstreamCheckpoint}).
     *
     * @param config the model config: {@link XLstmLmConfig} (NeurIPS) or {@link XLstmLargeConfig}
     * @return the model
     */
    public static XLstmLanguageModel create(XLstmConfig config) {
        if (config instanceof XLstmLmConfig c) {
            return new XLstmLmModel(c);
        }
        return new XLstmLargeModel((XLstmLargeConfig) config);
    }

    /**
     * The model config.
     *
     * @return the config the model was built from
     */
    public XLstmConfig getConfig() {
        return config;
    }

    /**
     * The block stack, for running the residual blocks on embeddings of one's own.
     *
     * @return the stack
     */
    public XLstmBlockStack getStack() {
        return stack;
    }

    /**
     * How the mLSTM cells run over sequences.
     *
     * @return the form set last (the architecture's default until {@link #setForm} is called)
     */
    public MLstmForm getForm() {
        return form;
    }

    /**
     * Sets, once for all mLSTM cells, how they run over sequences: every form gives the same
     * outputs within float32 round-off; the default is {@link MLstmForm#DEFAULT} for the NeurIPS
     * model and {@link MLstmForm#inference(int)} of {@code chunk_size} for xLSTM Large. An
     * execution choice, not saved with the model.
     *
     * @param form the form
     * @throws IllegalArgumentException if {@code form} is null
     */
    public void setForm(MLstmForm form) {
        if (form == null) {
            throw new IllegalArgumentException("mLSTM form must not be null");
        }
        this.form = form;
        stack.setForm(form);
    }

    /**
     * A counter that changes whenever the weights may have changed through this model: a training
     * forward pass (an optimizer step follows it), {@code initialize}, {@code loadParameters}, or
     * {@link #weightsChanged()}. Caches of weights derived for inference (the CPU decode step of
     * {@link ai.djl.xlstm.generate.Generator}) are rebuilt when it differs from theirs.
     *
     * @return the current version
     */
    public long getWeightsVersion() {
        return weightsVersion.get();
    }

    /**
     * Tells the model that its weights were changed other than through its own training forward
     * pass or loading (for example by setting a parameter's array directly), so that weights
     * cached for inference are rebuilt before the next generation uses them.
     */
    public void weightsChanged() {
        weightsVersion.incrementAndGet();
    }

    @Override
    public void initialize(NDManager manager, DataType dataType, Shape... inputShapes) {
        super.initialize(manager, dataType, inputShapes);
        weightsChanged();
    }

    @Override
    public void loadParameters(NDManager manager, java.io.DataInputStream is)
            throws java.io.IOException, ai.djl.MalformedModelException {
        super.loadParameters(manager, is);
        weightsChanged();
    }

    /**
     * The most tokens (batch size times positions) one pass holds activations for when no gradient
     * is recorded; see {@link #setInferenceSegment(int)}.
     *
     * @return the segment length in tokens
     */
    public int getInferenceSegment() {
        return inferenceSegment;
    }

    /**
     * Bounds the memory of inference over long sequences: when autograd records nothing, every
     * forward pass over more than {@code tokens} tokens (batch size times positions) runs in
     * segments of at most that many tokens (whole mLSTM chunks of at least one chunk, and at least
     * one position), carrying the recurrent state from one segment to the next, and frees each
     * segment's activations before the next. Only the logits (written into one {@code [B, S, V]}
     * array, or only the last position's) and the final state outlive the pass. The recurrent and
     * chunkwise forms continue exactly from a carried state, so the outputs agree with one pass over
     * the whole sequence within float32 round-off. With a gradient recorded (training) the pass is
     * never cut: back-propagation needs every activation anyway. An execution choice, not part of
     * the model (it is not saved).
     *
     * @param tokens at least 1; default {@link #DEFAULT_INFERENCE_SEGMENT}
     */
    public void setInferenceSegment(int tokens) {
        if (tokens < 1) {
            throw new IllegalArgumentException("inference segment must be >= 1 token, got " + tokens);
        }
        this.inferenceSegment = tokens;
    }

    /**
     * The type the model's weights are stored in: {@link DataType#FLOAT32} (as created, trained and
     * loaded by default) or {@link DataType#FLOAT16} (after {@link #castWeights}, or loaded so by
     * {@link ai.djl.xlstm.io.UpstreamCheckpoint#load(java.nio.file.Path, NDManager,
     * ai.djl.xlstm.io.ImportOptions, DataType)}).
     *
     * @return the weights' type
     * @throws IllegalStateException if the parameters are not initialized
     */
    public DataType getWeightType() {
        for (Pair<String, Parameter> p : getParameters()) {
            if (!p.getValue().isInitialized()) {
                break;
            }
            return p.getValue().getArray().getDataType();
        }
        throw new IllegalStateException("the model's parameters are not initialized");
    }

    /**
     * Stores every weight in {@code type}, in place, on the weights' device: {@link
     * DataType#FLOAT16} halves their memory; {@link DataType#FLOAT32} widens them back (exactly).
     * With float16 weights, the linear layers and the LM head multiply in float16 (float32
     * accumulation); everything numerically sensitive stays float32: the embeddings once looked up,
     * norm statistics, gate pre-activations once projected, the exponential gates and their
     * stabilizer, the mLSTM and sLSTM states and the logits. Such a model runs inference (forward,
     * generation, evaluation); training needs float32 weights and is refused.
     *
     * <p>{@link DataType#BFLOAT16} is refused: DJL 0.36's PyTorch engine has no bfloat16 type in its
     * native bridge and aborts the JVM on any array of it. A bfloat16 checkpoint loads into float16
     * weights exactly (bfloat16 carries 8 significant bits, float16 11) for magnitudes from 2^-14 to
     * 65504.
     *
     * @param type {@link DataType#FLOAT32} or {@link DataType#FLOAT16}
     * @throws IllegalArgumentException for another type (bfloat16 included), or, for float16, if a
     *     weight holds a finite value beyond float16's range (65504), naming it; no weight is changed
     *     then
     * @throws IllegalStateException if the parameters are not initialized
     */
    public void castWeights(DataType type) {
        WeightTypes.require(type, "weight type");
        List<Parameter> params = new ArrayList<>();
        for (Pair<String, Parameter> p : getParameters()) {
            if (!p.getValue().isInitialized()) {
                throw new IllegalStateException("the model's parameters are not initialized; initialize or load it first");
            }
            Parameter param = p.getValue();
            params.add(param);
            if (type == DataType.FLOAT16) {
                WeightTypes.requireHalfRange(param.getArray(), param.getName());
            }
        }
        for (Parameter param : params) {
            NDArray array = param.getArray();
            if (array.getDataType() != type && array.getDataType().isFloating()) {
                // An array keeps the type it was created with (the engine caches it), so interning a
                // cast value is not enough: the parameter gets a new array of the type, then the values.
                NDManager manager = array.getManager();
                NDArray cast = array.toType(type, false);
                param.close();
                param.initialize(manager, type);
                NDArray target = param.getArray();
                if (!cast.getDevice().equals(target.getDevice())) {
                    cast = cast.toDevice(target.getDevice(), false); // the array's type and device are cached: match both
                }
                target.intern(cast);
                if (param.requiresGradient() && type == DataType.FLOAT32) {
                    target.setRequiresGradient(true);
                }
            }
        }
        weightsChanged();
    }

    private void requireFloat32Weights(String what) {
        DataType type = getWeightType();
        if (type != DataType.FLOAT32) {
            throw new IllegalStateException(what + " needs float32 weights, but this model's are " + type
                    + "; call castWeights(DataType.FLOAT32) first (16-bit weights are for inference)");
        }
    }

    /**
     * The state before any token, for a batch of {@code batch} sequences.
     *
     * @param manager the manager of the state's arrays
     * @param device their device
     * @param batch the batch size
     * @return the zero state
     */
    public XLstmState zeroState(NDManager manager, Device device, long batch) {
        return stack.zeroState(manager, device, batch);
    }

    /**
     * Runs {@code tokens [B, S]} from {@code state} (null: zero state): prefill when S is large,
     * decode when S is 1.
     *
     * @param ps the parameter store
     * @param tokens the token ids {@code [B, S]}, integer
     * @param state the state to start from, or null for the zero state
     * @param training whether in training mode
     * @return the logits {@code [B, S, V]} and the state after the last token
     * @throws IllegalArgumentException for token ids outside {@code [0, V)}, a rank other than 2, or
     *     a state that does not belong to this model or batch
     */
    public LmOutput forward(ParameterStore ps, NDArray tokens, XLstmState state, boolean training) {
        Pair<NDArray, XLstmState> out = run(ps, tokens, state, true, false, training, true);
        return new LmOutput(out.getKey(), out.getValue());
    }

    /**
     * Like {@link #forward(ParameterStore, NDArray, XLstmState, boolean)}, but computes the logits
     * of the last position only ({@code [B, 1, V]}): what generation needs, without a {@code [B, S,
     * V]} tensor for a long prompt.
     *
     * <p>The generation fast path: the token ids are not range-checked here, which would copy them
     * to the host at every step (a round trip per token on a GPU). The caller guarantees ids in
     * {@code [0, V)}, as {@link ai.djl.xlstm.generate.Generator} does by checking a prompt's ids
     * once, on the host, and choosing every later id itself.
     *
     * @param ps the parameter store
     * @param tokens the token ids {@code [B, S]}, integer, each in {@code [0, V)}
     * @param state the state to start from, or null for the zero state
     * @return the logits {@code [B, 1, V]} of the last position and the state after it
     */
    public LmOutput forwardLast(ParameterStore ps, NDArray tokens, XLstmState state) {
        Pair<NDArray, XLstmState> out = run(ps, tokens, state, true, true, false, false);
        return new LmOutput(out.getKey(), out.getValue());
    }

    /**
     * The logits of {@code tokens} from the zero state.
     *
     * @param ps the parameter store
     * @param tokens the token ids {@code [B, S]}
     * @param training whether in training mode
     * @return the logits {@code [B, S, V]}
     */
    public NDArray logits(ParameterStore ps, NDArray tokens, boolean training) {
        return run(ps, tokens, null, false, false, training, true).getKey();
    }

    /**
     * The hidden states of {@code tokens [B, S]} from the zero state: the embeddings, then the
     * output of every residual block (before the final norm), each {@code [B, S, D]}.
     *
     * @param ps the parameter store
     * @param tokens the token ids {@code [B, S]}
     * @param training whether in training mode
     * @return {@code 1 + num_blocks} arrays {@code [B, S, D]}
     */
    public List<NDArray> hiddenStates(ParameterStore ps, NDArray tokens, boolean training) {
        validateTokens(tokens, true);
        NDArray x = embedding.forward(ps, tokens, training);
        List<NDArray> out = new ArrayList<>();
        out.add(x);
        out.addAll(stack.blockOutputs(ps, x, training));
        return out;
    }

    private Pair<NDArray, XLstmState> run(
            ParameterStore ps, NDArray tokens, XLstmState state, boolean needState, boolean lastOnly,
            boolean training, boolean checkIds) {
        validateTokens(tokens, checkIds);
        if (training) {
            requireFloat32Weights("training");
            weightsChanged(); // an optimizer step may follow
        }
        long batch = tokens.getShape().get(0);
        if (state != null) {
            stack.validateState(state, batch);
        }
        long len = tokens.getShape().get(1);
        NDManager manager = tokens.getManager();
        if (len > 1 && !training && TensorOps.gradMode(manager) && !TensorOps.mayCollectGradients(manager)) {
            // Grad mode is on (libtorch's default on every thread but the engine's first: a DJL
            // Serving worker, an application's pool), yet no gradient collector is open, so nothing
            // recorded could be used: run as inference, with its memory bounds.
            try (TensorOps.NoGradient scope = TensorOps.noGradient(manager)) {
                return runInference(ps, tokens, state, needState, lastOnly, training);
            }
        }
        return runInference(ps, tokens, state, needState, lastOnly, training);
    }

    /** One pass, or segments when no gradient is recorded and the sequence is long. */
    private Pair<NDArray, XLstmState> runInference(
            ParameterStore ps, NDArray tokens, XLstmState state, boolean needState, boolean lastOnly,
            boolean training) {
        long len = tokens.getShape().get(1);
        long step = segmentPositions(tokens.getShape().get(0));
        if (len <= step || training || TensorOps.gradMode(tokens.getManager())) {
            return runOnce(ps, tokens, state, needState, lastOnly, training);
        }
        return runSegments(ps, tokens, state, needState, lastOnly, training, step);
    }

    /**
     * The positions per segment for a batch of {@code batch}: {@link #getInferenceSegment()} tokens
     * in whole mLSTM chunks (so that every segment but the last ends on a chunk boundary, as one
     * pass would), at least one chunk.
     */
    private long segmentPositions(long batch) {
        long positions = Math.max(1, inferenceSegment / batch);
        long chunk = form.chunkSize();
        return positions <= chunk ? chunk : positions - positions % chunk;
    }


    /**
     * {@link #run} in segments of {@code step} positions, each in its own manager (see {@link
     * #setInferenceSegment(int)}); the results belong to the manager of {@code tokens}.
     */
    private Pair<NDArray, XLstmState> runSegments(
            ParameterStore ps, NDArray tokens, XLstmState state, boolean needState, boolean lastOnly,
            boolean training, long step) {
        NDManager owner = tokens.getManager();
        long batch = tokens.getShape().get(0);
        long len = tokens.getShape().get(1);
        NDArray logits = null; // [B, S, V], or [B, 1, V] when lastOnly
        XLstmState carried = state; // the caller's state is never attached, changed or closed here
        NDManager carryManager = null;
        try {
            for (long start = 0; start < len; start += step) {
                long end = Math.min(len, start + step);
                boolean last = end == len;
                try (NDManager segment = owner.newSubManager()) {
                    NDArray part = tokens.get(new NDIndex().addAllDim().addSliceDim(start, end)); // [B, n]
                    part.attach(segment);
                    if (carried != null && carried == state) {
                        // Ops on a state put their results in the state's manager: work on a copy,
                        // so that nothing of the first segment stays in the caller's manager.
                        carried = state.copy().attach(segment);
                    }
                    Pair<NDArray, XLstmState> out =
                            runOnce(ps, part, carried, !last || needState, lastOnly, training);
                    NDArray partLogits = out.getKey(); // [B, n, V], or [B, 1, V] when lastOnly
                    if (lastOnly) {
                        if (last) {
                            logits = partLogits;
                            logits.attach(owner);
                        }
                    } else {
                        if (logits == null) {
                            Shape shape = new Shape(batch, len, partLogits.getShape().get(2));
                            logits = owner.zeros(shape, partLogits.getDataType(), partLogits.getDevice());
                        }
                        logits.set(new NDIndex().addAllDim().addSliceDim(start, end), partLogits);
                    }
                    if (!last) {
                        NDManager next = owner.newSubManager();
                        carried = out.getValue().attach(next);
                        if (carryManager != null) {
                            carryManager.close();
                        }
                        carryManager = next;
                    } else if (needState) {
                        carried = out.getValue().attach(owner);
                    }
                }
            }
        } catch (RuntimeException e) {
            if (logits != null) {
                logits.close();
            }
            throw e;
        } finally {
            if (carryManager != null) {
                carryManager.close();
            }
        }
        return new Pair<>(logits, needState ? carried : null);
    }

    /** One pass over all of {@code tokens}. */
    private Pair<NDArray, XLstmState> runOnce(
            ParameterStore ps, NDArray tokens, XLstmState state, boolean needState, boolean lastOnly,
            boolean training) {
        NDArray x = embedding.forward(ps, tokens, training);
        Pair<NDArray, XLstmState> out = stack.forward(ps, x, state, needState, training);
        NDArray h = out.getKey(); // [B, S, D]
        long len = h.getShape().get(1);
        if (lastOnly && len > 1) {
            h = h.get(new NDIndex().addAllDim().addSliceDim(len - 1, len)); // [B, 1, D]
        }
        NDArray logits; // [B, S, V] float32
        if (lmHead != null) {
            logits = apply(ps, lmHead, h, training);
        } else {
            NDArray stored = embedding.weight(ps, tokens, training); // [V, D] as stored
            logits = stored.getDataType() == DataType.FLOAT16 && h.getDataType() != DataType.FLOAT16
                    ? linear(h, stored, null)
                    : h.matMul(scoped(embedding.weight(ps, h, training).transpose(), h));
        }
        return new Pair<>(TensorOps.softCap(logits, logitSoftCap), out.getValue());
    }

    /** Rank, size and type always; the id range ({@code checkIds}) needs the ids on the host. */
    private void validateTokens(NDArray tokens, boolean checkIds) {
        Shape s = tokens.getShape();
        if (s.dimension() != 2) {
            throw new IllegalArgumentException(
                    "tokens must have rank 2 [B, S], got shape " + s + " (rank " + s.dimension() + ")");
        }
        if (s.get(0) < 1 || s.get(1) < 1) {
            throw new IllegalArgumentException("tokens must hold at least one token per row, got shape " + s);
        }
        DataType dt = tokens.getDataType();
        if (!dt.isInteger()) {
            throw new IllegalArgumentException("tokens must be integer ids, got data type " + dt);
        }
        if (!checkIds) {
            return;
        }
        long[] ids = tokens.toType(DataType.INT64, false).toLongArray();
        int vocab = config.vocabSize();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException(
                        "token id " + ids[i] + " at [" + i / s.get(1) + ", " + i % s.get(1)
                                + "] is outside the vocabulary [0, " + vocab + ")");
            }
        }
    }

    /**
     * Rebuilds a state of this model from its tensors (as {@link XLstmState#toNDList()}).
     *
     * @param tensors every block's state arrays, in order
     * @return the state
     *
     * @throws IllegalArgumentException if there are not exactly as many tensors as the blocks'
     *     states hold; the message gives both counts, per block and in total
     */
    public XLstmState stateOf(List<NDArray> tensors) {
        return stack.stateOf(tensors);
    }

    /**
     * The DJL {@code Block} form: {@code [tokens]} gives {@code [logits]}, {@code [tokens, state
     * tensors...]} gives {@code [logits, new state tensors...]}. An empty input gives an empty
     * output: translators that run generation themselves (through {@link
     * ai.djl.xlstm.generate.Generator}) use a predictor's request only as its memory scope.
     */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        if (inputs.isEmpty()) {
            return new NDList();
        }
        NDArray tokens = inputs.get(0);
        if (inputs.size() == 1) {
            return new NDList(logits(ps, tokens, training));
        }
        XLstmState state = stateOf(inputs.subNDList(1));
        LmOutput out = forward(ps, tokens, state, training);
        NDList result = new NDList(out.logits());
        result.addAll(out.state().toNDList());
        return result;
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray tokens, boolean training) {
        return logits(ps, tokens, training);
    }

    /**
     * One forward pass as a one-element stream: what DJL's {@code Predictor.streamingPredict}
     * needs of a block (the streaming translators of the zoo stream tokens themselves).
     */
    @Override
    public Iterator<NDList> forwardStreamIter(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return List.of(forward(ps, inputs, training, params)).iterator();
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(config.vocabSize())};
    }
}
