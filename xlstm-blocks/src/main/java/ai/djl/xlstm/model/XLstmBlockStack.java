package ai.djl.xlstm.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import ai.djl.xlstm.internal.TensorOps;
import ai.djl.xlstm.components.AbstractXLstmBlock;
import ai.djl.xlstm.components.OffsetLayerNorm;
import ai.djl.xlstm.components.XLstmBlock;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.components.RmsNorm;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.config.XLstmLmConfig;
import ai.djl.xlstm.large.XLstmLargeBlock;
import ai.djl.xlstm.mlstm.MLstmBlock;
import ai.djl.xlstm.slstm.SLstmBlock;
import ai.djl.xlstm.state.BlockState;
import ai.djl.xlstm.state.XLstmState;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/**
 * Upstream {@code blocks/xlstm_block_stack.py: xLSTMBlockStack} and {@code xlstm_large/model.py:
 * xLSTMLargeBlockStack}: residual blocks applied in order, then an optional final norm.
 *
 * <p>For the NeurIPS model, {@link #neurips} builds xLSTM[a:b]: sLSTM blocks at {@code slstm_at},
 * mLSTM blocks elsewhere, and a LayerNorm ({@code post_blocks_norm}). For xLSTM Large, {@link
 * #large} builds mLSTM blocks and an RMSNorm ({@code out_norm}). Shapes: {@code [B, S, D] -> [B, S,
 * D]}.
 */
public class XLstmBlockStack extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final List<XLstmBlock> blocks;
    private final AbstractXLstmBlock outNorm;

    private XLstmBlockStack(List<XLstmBlock> blocks, String outNormName, AbstractXLstmBlock outNorm) {
        super(VERSION);
        List<XLstmBlock> added = new ArrayList<>();
        for (int i = 0; i < blocks.size(); i++) {
            added.add(addChildBlock("blocks." + i, blocks.get(i)));
        }
        this.blocks = Collections.unmodifiableList(added);
        this.outNorm = outNorm == null ? null : addChildBlock(outNormName, outNorm);
    }

    /**
     * The NeurIPS stack xLSTM[a:b] of {@code config}.
     *
     * @param config the model config
     * @return the stack
     */
    public static XLstmBlockStack neurips(XLstmLmConfig config) {
        List<XLstmBlock> blocks = new ArrayList<>();
        for (int i = 0; i < config.numBlocks(); i++) {
            blocks.add(
                    config.isSLstmBlock(i)
                            ? new SLstmBlock(config.slstm(), config.feedforward(), i, config.numBlocks())
                            : new MLstmBlock(config.mlstm(), config.numBlocks()));
        }
        OffsetLayerNorm norm = config.addPostBlocksNorm() ? new OffsetLayerNorm(config.embeddingDim(), 1e-5f) : null;
        return new XLstmBlockStack(blocks, "post_blocks_norm", norm);
    }

    /**
     * The xLSTM Large stack of {@code config}.
     *
     * @param config the model config
     * @return the stack
     */
    public static XLstmBlockStack large(XLstmLargeConfig config) {
        List<XLstmBlock> blocks = new ArrayList<>();
        for (int i = 0; i < config.numBlocks(); i++) {
            blocks.add(new XLstmLargeBlock(config));
        }
        RmsNorm norm =
                config.addOutNorm()
                        ? new RmsNorm(config.embeddingDim(), config.normEps(), config.useBias())
                        : null;
        return new XLstmBlockStack(blocks, "out_norm", norm);
    }

    /**
     * The residual blocks, in order.
     *
     * @return the blocks
     */
    public List<XLstmBlock> getBlocks() {
        return blocks;
    }

    /**
     * The state before any token.
     *
     * @param manager the manager of the state's arrays
     * @param device their device
     * @param batch the batch size
     * @return the zero state
     */
    public XLstmState zeroState(NDManager manager, Device device, long batch) {
        List<BlockState> states = new ArrayList<>();
        for (XLstmBlock b : blocks) {
            states.add(b.zeroState(manager, device, batch));
        }
        return new XLstmState(states);
    }

    /**
     * Runs every block from {@code state} (null: zero state).
     *
     * <p>When {@code x} records no gradient (inference) and holds more than one position, each
     * block runs in its own manager, which is closed once the block's output and state have moved
     * to the manager of {@code x}: a pass holds the temporaries of one block at a time, not of all.
     * {@code x} itself is left as it was.
     *
     * @param ps the parameter store
     * @param x the input {@code [B, S, D]}
     * @param state the state to start from, or null
     * @param needState whether to return the state after the last position
     * @param training whether in training mode
     * @return the normalized output {@code [B, S, D]} and the new state (null unless {@code
     *     needState})
     */
    public Pair<NDArray, XLstmState> forward(
            ParameterStore ps, NDArray x, XLstmState state, boolean needState, boolean training) {
        List<BlockState> next = needState ? new ArrayList<>(blocks.size()) : null;
        NDManager outer = x.getManager();
        boolean scoped = x.getShape().get(1) > 1 && !training && !TensorOps.gradMode(outer); // not for a decode step
        for (int i = 0; i < blocks.size(); i++) {
            BlockState in = state == null ? null : state.block(i);
            Pair<NDArray, BlockState> out;
            if (scoped) {
                try (NDManager block = outer.newSubManager()) {
                    // Results go to the manager of their first operand: the block's input must be
                    // in the block's manager. The caller's x is copied, not moved.
                    NDArray input = i == 0 ? x.duplicate() : x; // [B, S, D]
                    input.attach(block);
                    out = blocks.get(i).forward(ps, input, in, needState, training);
                    out.getKey().attach(outer);
                    if (needState) {
                        for (NDArray a : out.getValue().tensors()) {
                            a.attach(outer);
                        }
                    }
                }
            } else {
                out = blocks.get(i).forward(ps, x, in, needState, training);
            }
            x = out.getKey();
            if (needState) {
                next.add(out.getValue());
            }
        }
        if (outNorm != null) {
            x = outNorm.forward(ps, x, training);
        }
        return new Pair<>(x, needState ? new XLstmState(next) : null);
    }

    /**
     * The output of every residual block {@code [B, S, D]}, before the final norm, from the zero
     * state.
     *
     * @param ps the parameter store
     * @param x the input {@code [B, S, D]}
     * @param training whether in training mode
     * @return the block outputs, in order
     */
    public List<NDArray> blockOutputs(ParameterStore ps, NDArray x, boolean training) {
        List<NDArray> outputs = new ArrayList<>(blocks.size());
        for (XLstmBlock block : blocks) {
            x = block.forward(ps, x, training);
            outputs.add(x);
        }
        return outputs;
    }

    /**
     * Sets how the mLSTM cells of every block run over sequences.
     *
     * @param form the form
     */
    public void setForm(MLstmForm form) {
        for (XLstmBlock block : blocks) {
            block.setForm(form);
        }
    }

    /**
     * Rebuilds a state of this stack from its tensors (as {@link XLstmState#toNDList()}).
     *
     * @param tensors the tensors, every block's in order
     * @return the state
     * @throws IllegalArgumentException if there are not exactly as many tensors as the blocks'
     *     states hold; the message gives both counts, per block and in total
     */
    public XLstmState stateOf(List<NDArray> tensors) {
        int expected = 0;
        for (XLstmBlock b : blocks) {
            expected += b.stateSize();
        }
        if (tensors.size() != expected) {
            throw new IllegalArgumentException("the state of this model is " + expected + " arrays ("
                    + stateSizes() + ", in the order of XLstmState.toNDList()), got " + tensors.size()
                    + (tensors.size() < expected ? ": too few" : ": too many"));
        }
        Iterator<NDArray> it = tensors.iterator();
        List<BlockState> states = new ArrayList<>();
        for (XLstmBlock b : blocks) {
            states.add(b.stateOf(it));
        }
        return new XLstmState(states);
    }

    /** The state sizes of the blocks, runs of equal sizes merged: "block 0: 4, blocks 1-3: 5 each". */
    private String stateSizes() {
        StringBuilder sb = new StringBuilder();
        for (int start = 0; start < blocks.size(); ) {
            int size = blocks.get(start).stateSize();
            int end = start;
            while (end + 1 < blocks.size() && blocks.get(end + 1).stateSize() == size) {
                end++;
            }
            sb.append(sb.length() == 0 ? "" : ", ").append(start == end
                    ? "block " + start + ": " + size
                    : "blocks " + start + "-" + end + ": " + size + " each");
            start = end + 1;
        }
        return sb.toString();
    }

    /**
     * Checks that {@code state} is a state of this stack for a batch of {@code batch}.
     *
     * @param state the state
     * @param batch the input's batch size
     * @throws IllegalArgumentException naming the block and the mismatch if it is not
     */
    public void validateState(XLstmState state, long batch) {
        if (state.blocks().size() != blocks.size()) {
            throw new IllegalArgumentException(
                    "state has " + state.blocks().size() + " block states, the model has "
                            + blocks.size() + " blocks");
        }
        for (int i = 0; i < blocks.size(); i++) {
            BlockState b = state.block(i);
            if (!blocks.get(i).accepts(b)) {
                throw new IllegalArgumentException(
                        "state of block " + i + " (" + b.getClass().getSimpleName()
                                + ") does not fit block " + i + " of this model");
            }
            for (NDArray a : b.tensors()) {
                if (a.getShape().get(0) != batch) {
                    throw new IllegalArgumentException(
                            "state batch size " + a.getShape().get(0)
                                    + " differs from the input batch size " + batch);
                }
            }
        }
    }

    /**
     * Runs every block from the zero state, then the final norm; returns no state.
     *
     * @param ps the parameter store
     * @param x the input {@code [B, S, D]}
     * @param training whether in training mode
     * @return the output {@code [B, S, D]}
     */
    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        return forward(ps, x, null, false, training).getKey();
    }

    /**
     * As DJL's {@code LSTM}: {@code [x]} gives {@code [y]}; {@code [x, state...]} gives {@code [y,
     * state'...]}, the state in {@link XLstmState#toNDList()} order.
     */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        if (inputs.isEmpty()) {
            throw new IllegalArgumentException("the block stack takes [x] or [x, state...], got no arrays");
        }
        NDArray x = inputs.get(0);
        if (inputs.size() == 1) {
            return new NDList(forward(ps, x, training));
        }
        XLstmState state = stateOf(inputs.subNDList(1));
        validateState(state, x.getShape().get(0));
        Pair<NDArray, XLstmState> out = forward(ps, x, state, true, training);
        NDList result = new NDList(out.getKey());
        result.addAll(out.getValue().toNDList());
        return result;
    }

    /** The output has the shape of the input, and the state keeps its shapes. */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes.clone();
    }
}
