package ai.djl.xlstm.components;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.internal.TensorOps;
import ai.djl.xlstm.internal.Inits;

/**
 * Upstream {@code xlstm_large/model.py: FeedForward} (xLSTM Large): {@code proj_down(silu(proj_up_gate(x))
 * * proj_up(x))}, with the up-projection dimension {@code ffn_proj_factor * D} rounded up to a
 * multiple of {@code ffn_round_up_to_multiple_of}. Fused upstream weights ({@code proj_up_gate_z})
 * are split into the two projections when a checkpoint is imported.
 *
 * <p>Shapes: {@code [B, S, D] -> [B, S, D]}.
 */
public class SwiGluFeedForward extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final Linear projUpGate;
    private final Linear projUp;
    private final Linear projDown;

    /**
     * @param dim D
     * @param upDim the up-projection dimension
     * @param bias whether the projections have biases
     * @param numBlocks the number of blocks in the stack (for the output initialization)
     */
    public SwiGluFeedForward(long dim, long upDim, boolean bias, int numBlocks) {
        super(VERSION);
        projUpGate = addLinear("proj_up_gate", dim, upDim, bias, Inits.small(dim), null);
        projUp = addLinear("proj_up", dim, upDim, bias, Inits.small(dim), null);
        projDown = addLinear("proj_down", upDim, dim, bias, Inits.wang(dim, numBlocks), null);
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        NDArray gate = TensorOps.silu(apply(ps, projUpGate, x, training));
        return apply(ps, projDown, gate.mul(apply(ps, projUp, x, training)), training);
    }
}
