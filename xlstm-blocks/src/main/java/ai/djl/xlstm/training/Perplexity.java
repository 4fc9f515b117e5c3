package ai.djl.xlstm.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.evaluator.Evaluator;
import ai.djl.xlstm.internal.TensorOps;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Perplexity {@code exp(total NLL / labelled tokens)}, accumulated over all batches (not an average
 * of per-batch perplexities). Labels as {@link CausalLmLoss}.
 */
public class Perplexity extends Evaluator {

    private final ConcurrentHashMap<String, double[]> sums = new ConcurrentHashMap<>();

    /** Creates the evaluator, named {@code Perplexity}. */
    public Perplexity() {
        super("Perplexity");
    }

    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray[] s = CausalLmLoss.negativeLogLikelihood(labels.get(0), predictions.get(0));
        return s[0].div(s[1].maximum(TensorOps.scalar(s[1], 1f))).exp();
    }

    @Override
    public void addAccumulator(String key) {
        sums.put(key, new double[2]);
        totalInstances.put(key, 0L);
    }

    @Override
    public void updateAccumulator(String key, NDList labels, NDList predictions) {
        updateAccumulators(new String[] {key}, labels, predictions);
    }

    @Override
    public void updateAccumulators(String[] keys, NDList labels, NDList predictions) {
        NDArray[] s = CausalLmLoss.negativeLogLikelihood(labels.get(0), predictions.get(0));
        double nll = s[0].getFloat();
        double count = s[1].getFloat();
        for (String key : keys) {
            double[] acc = sums.computeIfAbsent(key, k -> new double[2]);
            synchronized (acc) {
                acc[0] += nll;
                acc[1] += count;
            }
            totalInstances.merge(key, (long) count, Long::sum);
        }
    }

    @Override
    public void resetAccumulator(String key) {
        sums.put(key, new double[2]);
        totalInstances.put(key, 0L);
    }

    /**
     * The mean negative log-likelihood per labelled token accumulated under {@code key}, in double
     * precision: the log of {@link #getAccumulator}.
     *
     * @return the mean NLL, NaN before any labelled token
     */
    double meanNegativeLogLikelihood(String key) {
        double[] acc = sums.get(key);
        if (acc == null || acc[1] == 0) {
            return Double.NaN;
        }
        synchronized (acc) {
            return acc[0] / acc[1];
        }
    }

    @Override
    public float getAccumulator(String key) {
        double[] acc = sums.get(key);
        if (acc == null || acc[1] == 0) {
            return Float.NaN;
        }
        return (float) Math.exp(acc[0] / acc[1]);
    }
}
