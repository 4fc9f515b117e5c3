package ai.djl.xlstm.state;

import ai.djl.ndarray.NDArray;

import java.util.Iterator;
import java.util.List;

/**
 * The recurrent state of one residual block. Every tensor has the batch on axis 0, which is what
 * lets {@link XLstmState} copy, detach, select and concatenate states generically.
 */
public interface BlockState {

    /**
     * The state's tensors in a fixed order (absent optional parts are left out).
     *
     * @return the tensors
     */
    List<NDArray> tensors();

    /**
     * A state of the same kind built from {@code tensors}, consumed in {@link #tensors()} order.
     *
     * @param tensors the tensors, consumed in order
     * @return the state
     */
    BlockState withTensors(Iterator<NDArray> tensors);
}
