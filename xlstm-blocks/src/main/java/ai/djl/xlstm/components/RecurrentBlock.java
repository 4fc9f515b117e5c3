package ai.djl.xlstm.components;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.xlstm.state.BlockState;

import java.util.Iterator;

/** A residual xLSTM block that carries a recurrent state from call to call. */
public interface RecurrentBlock extends Block {

    /**
     * Runs the block over {@code x [B, S, D]} from {@code state} (null: the zero state).
     *
     * @param ps the parameter store
     * @param x the input {@code [B, S, D]}
     * @param state the state to start from, or null
     * @param backend how the mLSTM cell runs over the sequence (ignored by sLSTM blocks)
     * @param needState whether to return the state after the last position
     * @param training whether in training mode
     * @return the output {@code [B, S, D]} and the new state (null when not needed)
     */
    Pair<NDArray, BlockState> forward(
            ParameterStore ps, NDArray x, BlockState state, MLstmBackend backend,
            boolean needState, boolean training);

    /**
     * The state before any token, for a batch of {@code batch}.
     *
     * @param manager the manager of the state's arrays
     * @param device their device
     * @param batch the batch size
     * @return the zero state
     */
    BlockState zeroState(NDManager manager, Device device, long batch);

    /**
     * Rebuilds this block's state from its tensors in {@link BlockState#tensors()} order.
     *
     * @param tensors the tensors, consumed in order
     * @return the state
     */
    BlockState stateOf(Iterator<NDArray> tensors);

    /** How many tensors this block's state holds: {@link #stateOf} takes that many. */
    int stateSize();

    /**
     * Whether {@code state} is a state of this kind of block (its type, not its shapes).
     *
     * @param state a state
     * @return whether this block accepts it
     */
    boolean accepts(BlockState state);
}
