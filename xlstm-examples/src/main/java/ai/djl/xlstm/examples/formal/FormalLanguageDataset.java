package ai.djl.xlstm.examples.formal;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import ai.djl.xlstm.internal.TensorOps;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/**
 * A fixed set of random examples of one {@link FormalTask}, generated once at build time from a
 * seed: for each example a length is drawn uniformly from {@code [minLength, maxLength]} and passed
 * to {@link FormalTask#generate} (so modular arithmetic and MQAR apply their length rules).
 *
 * <p>{@link #get} returns data {@code NDList(tokens [T] int64)} and labels {@code NDList(labels [T]
 * int64)}, padded at the end to {@code T = }{@link #sequenceLength()} with the task's PAD token and
 * {@link FormalExample#IGNORE} labels; end padding cannot influence earlier positions of a causal
 * model. The paper trains on lengths 1..40 and tests on 41..256.
 */
public final class FormalLanguageDataset extends RandomAccessDataset {

    private final FormalTask task;
    private final Supervision supervision;
    private final int sequenceLength;
    private final List<FormalExample> examples;

    private FormalLanguageDataset(Builder builder) {
        super(builder);
        this.task = builder.task;
        this.supervision = builder.supervision;
        this.sequenceLength = Math.max(builder.maxLength, task.minLength());
        Random random = new Random(builder.seed);
        List<FormalExample> list = new ArrayList<>(builder.size);
        for (int i = 0; i < builder.size; i++) {
            int length = builder.minLength + random.nextInt(builder.maxLength - builder.minLength + 1);
            list.add(task.generate(random, length, supervision));
        }
        this.examples = Collections.unmodifiableList(list);
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The task. */
    public FormalTask task() {
        return task;
    }

    /** The supervision mode. */
    public Supervision supervision() {
        return supervision;
    }

    /** The padded length T of every record: the maximum length, at least the task's minimum. */
    public int sequenceLength() {
        return sequenceLength;
    }

    /** The unpadded examples, in index order. */
    public List<FormalExample> examples() {
        return examples;
    }

    /** The true (unpadded) length of example {@code index}. */
    public int trueLength(int index) {
        return examples.get(index).length();
    }

    @Override
    public Record get(NDManager manager, long index) {
        FormalExample example = examples.get(Math.toIntExact(index));
        return new Record(
                new NDList(TensorOps.owned(manager, example.paddedTokens(sequenceLength, task.padToken()))),
                new NDList(TensorOps.owned(manager, example.paddedLabels(sequenceLength))));
    }

    @Override
    protected long availableSize() {
        return examples.size();
    }

    /** Nothing to do: the examples are generated when the dataset is built. */
    @Override
    public void prepare(Progress progress) {}

    /** Builds a {@link FormalLanguageDataset}; also set the sampling with {@code setSampling}. */
    public static final class Builder extends BaseBuilder<Builder> {

        private FormalTask task;
        private Supervision supervision = Supervision.DENSE;
        private int minLength = 1;
        private int maxLength = 40;
        private int size;
        private long seed;

        @Override
        protected Builder self() {
            return this;
        }

        /** The task (required). */
        public Builder setTask(FormalTask task) {
            this.task = task;
            return this;
        }

        /** The supervision mode (default {@link Supervision#DENSE}). */
        public Builder optSupervision(Supervision supervision) {
            this.supervision = supervision;
            return this;
        }

        /** The inclusive range lengths are drawn from (default 1..40, the paper's training range). */
        public Builder optLengthRange(int minLength, int maxLength) {
            this.minLength = minLength;
            this.maxLength = maxLength;
            return this;
        }

        /** The number of examples (required, >= 1). */
        public Builder setNumExamples(int size) {
            this.size = size;
            return this;
        }

        /** The seed of the generator (default 0). */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Generates the examples and builds the dataset. */
        public FormalLanguageDataset build() {
            Objects.requireNonNull(task, "task");
            Objects.requireNonNull(supervision, "supervision");
            if (minLength < 1 || maxLength < minLength) {
                throw new IllegalArgumentException(
                        "need 1 <= minLength <= maxLength, got " + minLength + ".." + maxLength);
            }
            if (size < 1) {
                throw new IllegalArgumentException("numExamples must be >= 1, got " + size);
            }
            return new FormalLanguageDataset(this);
        }
    }
}
