package ai.djl.xlstm.components;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.config.FeedForwardConfig;
import ai.djl.xlstm.internal.TensorOps;
import ai.djl.xlstm.internal.Inits;

/**
 * Upstream {@code components/feedforward.py: GatedFeedForward} (NeurIPS sLSTM block): one
 * up-projection to {@code 2 * P} features, split into gate and value, {@code act(gate) * value},
 * then a down-projection. P is {@code proj_factor * D} rounded up to a multiple of 64.
 *
 * <p>Shapes: {@code [B, S, D] -> [B, S, D]}.
 */
public class GatedFeedForward extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final FeedForwardConfig config;
    private final Linear projUp;
    private final Linear projDown;

    /**
     * Creates the feed-forward block for {@code config} in a stack of {@code numBlocks}.
     *
     * @param config the feed-forward config
     * @param numBlocks the number of blocks of the stack (for the output initialization)
     */
    public GatedFeedForward(FeedForwardConfig config, int numBlocks) {
        super(VERSION);
        this.config = config;
        int up = config.projUpDim();
        int d = config.embeddingDim();
        projUp = addLinear("proj_up", d, 2L * up, config.bias(), Inits.small(d), null);
        projDown = addLinear("proj_down", up, d, config.bias(), Inits.wang(d, numBlocks), null);
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        NDList gateAndValue = apply(ps, projUp, x, training).split(2, x.getShape().dimension() - 1);
        NDArray h = activate(gateAndValue.get(0)).mul(gateAndValue.get(1));
        NDArray y = apply(ps, projDown, h, training);
        if (training && config.dropout() > 0) {
            y = Dropout.dropout(y, config.dropout(), true).singletonOrThrow();
        }
        return y;
    }

    private NDArray activate(NDArray x) {
        switch (config.actFn()) {
            case "gelu":
                return Activation.gelu(x);
            case "relu":
                return Activation.relu(x);
            case "relu^2":
                return Activation.relu(x).square();
            case "sigmoid":
                return Activation.sigmoid(x);
            case "swish":
            case "silu":
                return TensorOps.silu(x);
            case "selu":
                return Activation.selu(x);
            default:
                throw new IllegalStateException("unreachable: act_fn " + config.actFn());
        }
    }
}
