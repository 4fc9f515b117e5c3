package ai.djl.xlstm.state;

import ai.djl.ndarray.NDArray;

import java.util.Iterator;
import java.util.List;

/**
 * The mLSTM memory (paper eqs. 19-21), carried in float32.
 *
 * <p>The NeurIPS cell stores keys scaled by {@code 1/sqrt(DHQK)}, xLSTM Large stores raw keys (it
 * scales queries instead), so the same model state differs by {@code sqrt(DHQK)} between the two
 * conventions, exactly as upstream.
 *
 * @param c the matrix memory C {@code [B, NH, DHQK, DHV]}
 * @param n the normalizer n {@code [B, NH, DHQK]}
 * @param m the stabilizer m {@code [B, NH, 1]}
 */
public record MLstmCellState(NDArray c, NDArray n, NDArray m) implements BlockState {

    @Override
    public List<NDArray> tensors() {
        return List.of(c, n, m);
    }

    @Override
    public MLstmCellState withTensors(Iterator<NDArray> t) {
        return new MLstmCellState(t.next(), t.next(), t.next());
    }
}
