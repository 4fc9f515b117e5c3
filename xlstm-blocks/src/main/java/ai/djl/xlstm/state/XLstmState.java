package ai.djl.xlstm.state;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The recurrent state of a whole model: one {@link BlockState} per residual block. Its size does
 * not depend on how many tokens it has seen.
 *
 * <p>Instances are immutable; every operation returns a new state whose arrays live where the
 * operation put them (use {@link #attach} to move them to a longer-lived manager).
 */
public final class XLstmState {

    private final List<BlockState> blocks;

    /**
     * Creates a state from per-block states.
     *
     * @param blocks the per-block states, in block order
     */
    public XLstmState(List<BlockState> blocks) {
        this.blocks = List.copyOf(blocks);
    }

    /**
     * The per-block states, in block order.
     *
     * @return the block states
     */
    public List<BlockState> blocks() {
        return blocks;
    }

    /**
     * The state of block {@code index}.
     *
     * @param index the block index
     * @return the block's state
     */
    public BlockState block(int index) {
        return blocks.get(index);
    }

    /**
     * The batch size B.
     *
     * @return the batch size
     */
    public long batchSize() {
        return blocks.get(0).tensors().get(0).getShape().get(0);
    }

    /**
     * All tensors, block after block, in {@link BlockState#tensors()} order.
     *
     * @return the tensors
     */
    public NDList toNDList() {
        NDList list = new NDList();
        for (BlockState b : blocks) {
            list.addAll(b.tensors());
        }
        return list;
    }

    /**
     * A state shaped like this one holding {@code tensors} (as produced by {@link #toNDList}).
     *
     * @param tensors the tensors, in {@link #toNDList} order
     * @return the new state
     */
    public XLstmState withTensors(List<NDArray> tensors) {
        Iterator<NDArray> it = tensors.iterator();
        List<BlockState> out = new ArrayList<>(blocks.size());
        for (BlockState b : blocks) {
            out.add(b.withTensors(it));
        }
        if (it.hasNext()) {
            throw new IllegalArgumentException(
                    "state has " + toNDList().size() + " tensors, got " + tensors.size());
        }
        return new XLstmState(out);
    }

    /**
     * Applies {@code op} to every tensor.
     *
     * @param op the operation
     * @return the new state
     */
    public XLstmState map(UnaryOperator<NDArray> op) {
        NDList mapped = new NDList();
        for (NDArray a : toNDList()) {
            mapped.add(op.apply(a));
        }
        return withTensors(mapped);
    }

    /**
     * A deep copy.
     *
     * @return the copy
     */
    public XLstmState copy() {
        return map(NDArray::duplicate);
    }

    /**
     * The same values cut from the autograd graph (truncated back-propagation through time).
     *
     * @return the detached state
     */
    public XLstmState detach() {
        return map(NDArray::stopGradient);
    }

    /**
     * Moves every tensor to {@code manager} (so it outlives a per-step manager).
     *
     * @param manager the manager to move to
     * @return this state
     */
    public XLstmState attach(NDManager manager) {
        for (NDArray a : toNDList()) {
            a.attach(manager);
        }
        return this;
    }

    /**
     * The rows {@code rows} of the batch, in that order (repeats allowed, e.g. for beams).
     *
     * @param rows the row indices
     * @return the new state
     */
    public XLstmState select(long... rows) {
        long batch = batchSize();
        for (long r : rows) {
            if (r < 0 || r >= batch) {
                throw new IllegalArgumentException("state row " + r + " is outside [0, " + batch + ")");
            }
        }
        return map(a -> a.get(a.getManager().create(rows)));
    }

    /**
     * Concatenates states of the same model along the batch axis.
     *
     * @param states the states, each with the same blocks
     * @return the concatenated state
     */
    public static XLstmState concat(List<XLstmState> states) {
        if (states.isEmpty()) {
            throw new IllegalArgumentException("cannot concatenate zero states");
        }
        List<NDList> lists = new ArrayList<>();
        for (XLstmState s : states) {
            lists.add(s.toNDList());
        }
        int n = lists.get(0).size();
        NDList joined = new NDList();
        for (int i = 0; i < n; i++) {
            NDList parts = new NDList();
            for (NDList l : lists) {
                if (l.size() != n) {
                    throw new IllegalArgumentException("cannot concatenate states of different models");
                }
                parts.add(l.get(i));
            }
            joined.add(NDArrays.concat(parts, 0));
        }
        return states.get(0).withTensors(joined);
    }
}
