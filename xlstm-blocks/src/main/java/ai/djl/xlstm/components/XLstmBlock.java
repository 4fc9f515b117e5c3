package ai.djl.xlstm.components;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import ai.djl.xlstm.state.BlockState;

import java.util.Iterator;

/**
 * Upstream {@code blocks/xlstm_block.py: xLSTMBlock}: a residual block that carries a recurrent
 * state from call to call (the mLSTM, sLSTM and xLSTM Large blocks).
 *
 * <p>As a DJL {@link ai.djl.nn.Block} it takes and returns its state as extra arrays, as DJL's
 * {@code LSTM} does: {@code [x]} gives {@code [y]} (from the zero state, no state returned), and
 * {@code [x, state...]} gives {@code [y, state'...]}, the state arrays in {@link
 * BlockState#tensors()} order ({@link #stateSize()} of them; {@link #zeroState} gives a state to
 * start from). Shapes: {@code x, y [B, S, D]}.
 */
public abstract class XLstmBlock extends AbstractXLstmBlock {

    /**
     * Creates the block.
     *
     * @param version the block's version, as DJL's {@link ai.djl.nn.AbstractBlock} stores it
     */
    protected XLstmBlock(byte version) {
        super(version);
    }

    /**
     * Runs the block over {@code x [B, S, D]} from {@code state} (null: the zero state).
     *
     * @param ps the parameter store
     * @param x the input {@code [B, S, D]}
     * @param state the state to start from, or null
     * @param needState whether to return the state after the last position
     * @param training whether in training mode
     * @return the output {@code [B, S, D]} and the new state (null when not needed)
     */
    public abstract Pair<NDArray, BlockState> forward(
            ParameterStore ps, NDArray x, BlockState state, boolean needState, boolean training);

    /**
     * The state before any token, for a batch of {@code batch}.
     *
     * @param manager the manager of the state's arrays
     * @param device their device
     * @param batch the batch size
     * @return the zero state
     */
    public abstract BlockState zeroState(NDManager manager, Device device, long batch);

    /**
     * Rebuilds this block's state from its tensors in {@link BlockState#tensors()} order.
     *
     * @param tensors the tensors, consumed in order
     * @return the state
     */
    public abstract BlockState stateOf(Iterator<NDArray> tensors);

    /**
     * How many tensors this block's state holds.
     *
     * @return the number of tensors {@link #stateOf} takes
     */
    public abstract int stateSize();

    /**
     * Whether {@code state} is a state of this kind of block (its type, not its shapes).
     *
     * @param state a state
     * @return whether this block accepts it
     */
    public abstract boolean accepts(BlockState state);

    /**
     * Sets how the block's mLSTM cell runs over sequences; blocks without one (sLSTM) ignore it.
     *
     * @param form the form
     */
    public void setForm(MLstmForm form) {
        // no mLSTM cell
    }

    /**
     * Runs the block from the zero state, returning no state.
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
     * {@code [x]} gives {@code [y]}; {@code [x, state...]} gives {@code [y, state'...]}.
     *
     * @throws IllegalArgumentException if the number of state arrays is not {@link #stateSize()}, or
     *     one of them has another batch size than {@code x}
     */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        if (inputs.isEmpty()) {
            throw new IllegalArgumentException(
                    getClass().getSimpleName() + " takes [x] or [x, state...], got no arrays");
        }
        NDArray x = inputs.get(0);
        if (inputs.size() == 1) {
            return new NDList(forward(ps, x, training));
        }
        if (inputs.size() - 1 != stateSize()) {
            throw new IllegalArgumentException(
                    getClass().getSimpleName() + " takes [x] or [x, state...] with " + stateSize()
                            + " state arrays, got " + (inputs.size() - 1));
        }
        BlockState state = stateOf(inputs.subNDList(1).iterator());
        long batch = x.getShape().get(0);
        for (NDArray a : state.tensors()) {
            if (a.getShape().dimension() == 0 || a.getShape().get(0) != batch) {
                throw new IllegalArgumentException(
                        getClass().getSimpleName() + ": state array " + a.getShape()
                                + " does not have the input's batch size " + batch);
            }
        }
        Pair<NDArray, BlockState> out = forward(ps, x, state, true, training);
        NDList result = new NDList(out.getKey());
        result.addAll(out.getValue().tensors());
        return result;
    }

    /** The output {@code y} has the shape of {@code x}, and the state keeps its shapes. */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes.clone();
    }
}
