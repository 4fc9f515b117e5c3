package ai.djl.xlstm.training;

import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Sampler;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;

/**
 * A reproducible batch sampler: epoch {@code e} visits the examples in a permutation drawn from
 * {@code seed + e}, in batches of a fixed size (the last, incomplete batch is dropped). Given the
 * number of batches already consumed, it resumes exactly where an interrupted run stopped, which
 * DJL's {@code RandomSampler} (unseeded) cannot.
 *
 * <p>{@link #sample} continues from the current position and runs forever (epoch after epoch);
 * the training loop decides when to stop.
 */
final class SeededBatchSampler implements Sampler {

    private final int batchSize;
    private final long seed;
    private final boolean shuffle;
    private long consumed;

    /**
     * @param batchSize examples per batch
     * @param seed the seed of the permutations
     * @param shuffle whether to permute (false: in order)
     * @param consumedBatches batches already consumed (0 for a fresh run)
     */
    SeededBatchSampler(int batchSize, long seed, boolean shuffle, long consumedBatches) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        this.batchSize = batchSize;
        this.seed = seed;
        this.shuffle = shuffle;
        this.consumed = consumedBatches;
    }

    @Override
    public int getBatchSize() {
        return batchSize;
    }

    /**
     * Batches handed out so far, including those of the run this one resumed.
     *
     * @return the batch count
     */
    public long consumedBatches() {
        return consumed;
    }

    @Override
    public Iterator<List<Long>> sample(RandomAccessDataset dataset) {
        long size = dataset.size();
        long perEpoch = size / batchSize;
        if (perEpoch == 0) {
            throw new IllegalArgumentException(
                    "the dataset has " + size + " examples, fewer than one batch of " + batchSize);
        }
        return new Iterator<>() {
            private long epoch = -1;
            private List<Long> order;

            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public List<Long> next() {
                long e = consumed / perEpoch;
                if (e != epoch) {
                    epoch = e;
                    order = permutation(size, e);
                }
                int start = (int) ((consumed % perEpoch) * batchSize);
                if (start + batchSize > order.size()) {
                    throw new NoSuchElementException();
                }
                consumed++;
                return new ArrayList<>(order.subList(start, start + batchSize));
            }
        };
    }

    private List<Long> permutation(long size, long epoch) {
        List<Long> order = new ArrayList<>((int) size);
        for (long i = 0; i < size; i++) {
            order.add(i);
        }
        if (shuffle) {
            Collections.shuffle(order, new Random(seed * 1_000_003L + epoch));
        }
        return order;
    }
}
