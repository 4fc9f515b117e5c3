package ai.djl.xlstm.state;

import ai.djl.ndarray.NDArray;

import java.util.Iterator;
import java.util.List;

/**
 * The sLSTM state (paper eqs. 8-17): hidden y, cell c, normalizer n and stabilizer m, each {@code
 * [B, NH, 1, DH]} (the layout the per-head recurrent matmul consumes without reshapes).
 *
 * <p>The zero state has {@code m = -inf}: its first step then takes {@code m = i}, which is what
 * upstream does when {@code n == 0}.
 */
public record SLstmCellState(NDArray y, NDArray c, NDArray n, NDArray m) implements BlockState {

    @Override
    public List<NDArray> tensors() {
        return List.of(y, c, n, m);
    }

    @Override
    public SLstmCellState withTensors(Iterator<NDArray> t) {
        return new SLstmCellState(t.next(), t.next(), t.next(), t.next());
    }
}
