package ai.djl.xlstm.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.xlstm.components.TensorOps;
import ai.djl.xlstm.components.AbstractXLstmBlock;
import ai.djl.xlstm.components.LayerNorm;
import ai.djl.xlstm.components.RecurrentBlock;
import ai.djl.xlstm.components.RmsNorm;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.config.XLstmLmConfig;
import ai.djl.xlstm.large.XLstmLargeBlock;
import ai.djl.xlstm.components.MLstmBackend;
import ai.djl.xlstm.mlstm.MLstmBlock;
import ai.djl.xlstm.slstm.SLstmBlock;
import ai.djl.xlstm.state.BlockState;
import ai.djl.xlstm.state.XLstmState;

import java.util.ArrayList;
import java.util.Collections;
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

    private final List<RecurrentBlock> blocks;
    private final AbstractXLstmBlock outNorm;

    private XLstmBlockStack(List<RecurrentBlock> blocks, String outNormName, AbstractXLstmBlock outNorm) {
        super(VERSION);
        List<RecurrentBlock> added = new ArrayList<>();
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
        List<RecurrentBlock> blocks = new ArrayList<>();
        for (int i = 0; i < config.numBlocks(); i++) {
            blocks.add(
                    config.isSLstmBlock(i)
                            ? new SLstmBlock(config.slstm(), config.feedforward(), i, config.numBlocks())
                            : new MLstmBlock(config.mlstm(), config.numBlocks()));
        }
        LayerNorm norm = config.addPostBlocksNorm() ? new LayerNorm(config.embeddingDim(), 1e-5f) : null;
        return new XLstmBlockStack(blocks, "post_blocks_norm", norm);
    }

    /**
     * The xLSTM Large stack of {@code config}.
     *
     * @param config the model config
     * @return the stack
     */
    public static XLstmBlockStack large(XLstmLargeConfig config) {
        List<RecurrentBlock> blocks = new ArrayList<>();
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
    public List<RecurrentBlock> getBlocks() {
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
        for (RecurrentBlock b : blocks) {
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
     * @param backend how the mLSTM cells run over the sequence
     * @param needState whether to return the state after the last position
     * @param training whether in training mode
     * @return the normalized output {@code [B, S, D]} and the new state (null unless {@code
     *     needState})
     */
    public Pair<NDArray, XLstmState> forward(
            ParameterStore ps, NDArray x, XLstmState state, MLstmBackend backend,
            boolean needState, boolean training) {
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
                    out = blocks.get(i).forward(ps, input, in, backend, needState, training);
                    out.getKey().attach(outer);
                    if (needState) {
                        for (NDArray a : out.getValue().tensors()) {
                            a.attach(outer);
                        }
                    }
                }
            } else {
                out = blocks.get(i).forward(ps, x, in, backend, needState, training);
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
     * @param backend how the mLSTM cells run over the sequence
     * @param training whether in training mode
     * @return the block outputs, in order
     */
    public List<NDArray> blockOutputs(ParameterStore ps, NDArray x, MLstmBackend backend, boolean training) {
        List<NDArray> outputs = new ArrayList<>(blocks.size());
        for (RecurrentBlock block : blocks) {
            x = block.forward(ps, x, null, backend, false, training).getKey();
            outputs.add(x);
        }
        return outputs;
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        throw new UnsupportedOperationException("XLstmBlockStack needs an mLSTM backend: use the stateful forward");
    }
}
