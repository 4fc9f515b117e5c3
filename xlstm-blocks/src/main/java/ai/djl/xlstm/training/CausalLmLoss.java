package ai.djl.xlstm.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import ai.djl.xlstm.internal.TensorOps;

import java.lang.ref.WeakReference;

/**
 * Next-token cross-entropy over logits {@code [B, T, V]} and labels {@code [B, T]}, averaged over
 * the labelled positions. Labels equal to {@link #IGNORE_INDEX} are masked out.
 *
 * <p>The logits are flattened to {@code [B * T, V]} first, so any B and T work (DJL's {@code
 * SoftmaxCrossEntropyLoss} on {@code [B, T, V]} fails whenever B != T). The labels are the targets
 * as given: shifting inputs against targets is the dataset's job.
 */
public class CausalLmLoss extends Loss {

    /** The label of a position that carries no target (as PyTorch's {@code ignore_index}). */
    public static final long IGNORE_INDEX = -100;

    /** Creates the loss, named {@code CausalLmLoss}. */
    public CausalLmLoss() {
        super("CausalLmLoss");
    }

    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray[] sums = negativeLogLikelihood(labels.get(0), predictions.get(0));
        return sums[0].div(sums[1].maximum(TensorOps.scalar(sums[1], 1f)));
    }

    /**
     * The summed negative log-likelihood of the labelled positions and their count, both scalar
     * arrays (shared with {@link Perplexity}).
     *
     * @throws IllegalArgumentException for mismatched shapes or a label outside {@code [0, V)}
     */
    static NDArray[] negativeLogLikelihood(NDArray target, NDArray logits) {
        synchronized (LAST) {
            NDArray[] reused = LAST.reuse(target, logits);
            if (reused != null) {
                return reused;
            }
        }
        NDArray[] sums = computeNegativeLogLikelihood(target, logits);
        synchronized (LAST) {
            LAST.remember(target, logits, sums);
        }
        return sums;
    }

    /**
     * The last result, reused while the very same (open) label and logit arrays come again: DJL's
     * trainer evaluates the loss, then hands the same arrays to every evaluator (this loss as one,
     * and {@link Perplexity}), each of which would recompute the log-softmax over {@code [B * T, V]}
     * (about 100 ms of a 1.9 s step at 2,048 x 8,192).
     */
    private static final LastResult LAST = new LastResult();

    /** One remembered result, by the identity of its inputs (held weakly). */
    private static final class LastResult {
        private WeakReference<NDArray> target = new WeakReference<>(null);
        private WeakReference<NDArray> logits = new WeakReference<>(null);
        private NDArray[] sums;

        NDArray[] reuse(NDArray t, NDArray l) {
            if (sums != null && target.get() == t && logits.get() == l && !l.isReleased()
                    && !sums[0].isReleased() && !sums[1].isReleased()) {
                return sums;
            }
            return null;
        }

        void remember(NDArray t, NDArray l, NDArray[] s) {
            target = new WeakReference<>(t);
            logits = new WeakReference<>(l);
            sums = s;
        }
    }

    private static NDArray[] computeNegativeLogLikelihood(NDArray target, NDArray logits) {
        Shape ls = logits.getShape();
        Shape ts = target.getShape();
        if (ls.dimension() != 3 || ts.dimension() != 2 || ls.get(0) != ts.get(0) || ls.get(1) != ts.get(1)) {
            throw new IllegalArgumentException(
                    "CausalLmLoss expects logits [B, T, V] and labels [B, T], got logits " + ls + " and labels " + ts);
        }
        long vocab = ls.get(2);
        NDArray flatTarget = target.reshape(-1).toType(DataType.INT64, false); // [B * T]
        NDArray labelled = flatTarget.neq(TensorOps.scalar(flatTarget, IGNORE_INDEX));
        long max = flatTarget.max().getLong();
        if (max >= vocab) {
            throw new IllegalArgumentException("label " + max + " is outside the vocabulary [0, " + vocab + ")");
        }
        NDArray safeTarget = flatTarget.mul(labelled.toType(DataType.INT64, false)); // ignored -> 0
        if (safeTarget.min().getLong() < 0) {
            throw new IllegalArgumentException("labels must be in [0, " + vocab + ") or " + IGNORE_INDEX);
        }
        NDArray logProbs = logits.reshape(-1, vocab).logSoftmax(1); // [B * T, V]
        NDArray picked = logProbs.gather(safeTarget.expandDims(1), 1).squeeze(1); // [B * T]
        NDArray mask = labelled.toType(logProbs.getDataType(), false);
        return new NDArray[] {picked.mul(mask).sum().neg(), mask.sum()};
    }
}
