package ai.djl.xlstm.state;

import ai.djl.ndarray.NDArray;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The state of a NeurIPS residual block: the causal convolution window {@code [B, K - 1, D]}
 * (null when the layer has no convolution) and the cell state.
 *
 * @param convWindow the last K - 1 inputs of the convolution, or null
 * @param cell the cell state ({@link MLstmCellState} or {@link SLstmCellState})
 */
public record LayerState(NDArray convWindow, BlockState cell) implements BlockState {

    @Override
    public List<NDArray> tensors() {
        List<NDArray> list = new ArrayList<>();
        if (convWindow != null) {
            list.add(convWindow);
        }
        list.addAll(cell.tensors());
        return list;
    }

    @Override
    public LayerState withTensors(Iterator<NDArray> t) {
        NDArray window = convWindow == null ? null : t.next();
        return new LayerState(window, cell.withTensors(t));
    }
}
