package ai.djl.xlstm.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.xlstm.io.ParameterNames;
import ai.djl.xlstm.io.SafeTensors;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW (Loshchilov and Hutter) as upstream xLSTM trains with it, as a DJL {@link Optimizer}:
 *
 * <ul>
 *   <li>weight-decay groups: decoupled decay only on weight matrices (parameters of rank >= 2),
 *       none on norms, biases or the token embedding;
 *   <li>global-norm gradient clipping: all gradients are scaled by {@code min(1, maxNorm / ||g||)}
 *       where {@code ||g||} is the norm over every parameter (DJL's {@code optClipGrad} clips each
 *       element on its own);
 *   <li>gradient accumulation over N micro-batches: the gradients of N consecutive {@code
 *       Trainer.step()} calls add up in the parameters' gradient buffers, and every Nth call applies
 *       their mean;
 *   <li>a learning-rate {@link Tracker} (e.g. linear warm-up then cosine decay), evaluated at the
 *       number of applied updates.
 * </ul>
 *
 * <p>A step whose gradients contain infinities or NaN is skipped (its gradients dropped, a warning
 * logged, {@link #getSkippedSteps()} counted), as mixed-precision trainers do: with exponential
 * gating, rare batches give gradients too large for float32.
 *
 * <p>Unlike DJL's own optimizers, its state (moments and update count) can be saved and restored,
 * so that training resumes exactly. DJL calls {@link #update} once per parameter per {@code
 * Trainer.step()}; the first call of an applied step computes the global norm.
 */
public final class GroupedAdamW extends Optimizer {

    private static final String APPLIED_STEPS = "applied_steps";
    private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(GroupedAdamW.class);

    private final Tracker learningRate;
    private final float beta1;
    private final float beta2;
    private final float epsilon;
    private final float weightDecay;
    private final float maxGradNorm;
    private final int accumulationSteps;

    private final Map<String, String> names = new HashMap<>(); // parameter id -> upstream name
    private final Map<String, Boolean> decays = new HashMap<>(); // parameter id -> decayed?
    private final List<Parameter> parameters = new ArrayList<>();
    private final Map<String, NDArray> firstMoments = new HashMap<>(); // by name
    private final Map<String, NDArray> secondMoments = new HashMap<>();
    private final Map<String, Integer> calls = new HashMap<>(); // micro-steps seen per parameter id

    private int appliedSteps; // updates applied so far
    private int clipStep = -1;
    private float clipScale = 1f;
    private float lastGradNorm = Float.NaN;
    private int skippedSteps;

    private GroupedAdamW(Builder builder) {
        super(builder);
        learningRate = builder.learningRate;
        beta1 = builder.beta1;
        beta2 = builder.beta2;
        epsilon = builder.epsilon;
        weightDecay = builder.weightDecay;
        maxGradNorm = builder.maxGradNorm;
        accumulationSteps = builder.accumulationSteps;
        for (Map.Entry<String, Parameter> e : ParameterNames.of(builder.block).entrySet()) {
            Parameter p = e.getValue();
            names.put(p.getId(), e.getKey());
            decays.put(p.getId(), decays(e.getKey(), p));
            parameters.add(p);
        }
    }

    /**
     * The decay rule: weight matrices (rank >= 2) decay; norms, biases (rank 1) and the token
     * embedding do not.
     */
    static boolean decays(String name, Parameter p) {
        boolean embedding = name.equals("token_embedding.weight") || name.equals("embedding.weight");
        return !embedding && p.getShape() != null && p.getShape().dimension() >= 2;
    }

    /**
     * Whether the parameter with upstream name {@code name} is in the weight-decay group.
     *
     * @param name an upstream parameter name
     * @return whether weight decay applies to it
     */
    public boolean isDecayed(String name) {
        for (Map.Entry<String, String> e : names.entrySet()) {
            if (e.getValue().equals(name)) {
                return decays.get(e.getKey());
            }
        }
        throw new IllegalArgumentException("no parameter named " + name);
    }

    /**
     * The number of updates applied so far.
     *
     * @return the applied update count
     */
    public int getAppliedSteps() {
        return appliedSteps;
    }

    /**
     * The learning rate of the next update.
     *
     * @return the learning rate
     */
    public float currentLearningRate() {
        return learningRate.getNewValue(appliedSteps);
    }

    /**
     * The factor the last applied update scaled the gradients by (1: not clipped).
     *
     * @return the clip factor, in (0, 1]
     */
    public float getLastClipScale() {
        return clipScale;
    }

    /** The first moment of the parameter named {@code name} (null before its first update). */
    NDArray firstMoment(String name) {
        return firstMoments.get(name);
    }

    /**
     * The global gradient norm of the last applied update, before clipping.
     *
     * @return the gradient norm
     */
    public float getLastGradNorm() {
        return lastGradNorm;
    }

    @Override
    public void update(String parameterId, NDArray weight, NDArray grad) {
        int call = calls.merge(parameterId, 1, Integer::sum);
        if (call % accumulationSteps != 0) {
            return; // keep accumulating in the parameter's gradient buffer
        }
        int step = call / accumulationSteps; // 1-based update index
        if (step != clipStep) {
            clipStep = step;
            appliedSteps = step;
            clipScale = clipScale();
        }
        if (Float.isNaN(clipScale)) {
            zeroGradient(weight); // drop the non-finite gradients of this step
            return;
        }
        String name = names.getOrDefault(parameterId, parameterId);
        NDArray m = moment(firstMoments, name, weight);
        NDArray v = moment(secondMoments, name, weight);
        float lr = learningRate.getNewValue(step - 1);
        float correction1 = (float) (1 - Math.pow(beta1, step));
        float correction2 = (float) (1 - Math.pow(beta2, step));
        try (NDManager scope = weight.getManager().newSubManager()) {
            NDArray g = scoped(scope, grad.mul(clipScale / accumulationSteps));
            m.muli(beta1).addi(scoped(scope, g.mul(1 - beta1)));
            v.muli(beta2).addi(scoped(scope, g.square()).muli(1 - beta2));
            if (weightDecay > 0 && decays.getOrDefault(parameterId, false)) {
                weight.muli(1 - lr * weightDecay); // decoupled weight decay
            }
            NDArray denom = scoped(scope, scoped(scope, v.div(correction2)).sqrt()).addi(epsilon); // sqrt: 3x faster than powi(0.5)
            weight.subi(scoped(scope, m.div(denom)).muli(lr / correction1));
            zeroGradient(weight); // the step is applied: accumulate afresh
        }
    }

    /** Fills the gradient buffer of {@code weight} with zeros (also where it holds inf or NaN). */
    private static void zeroGradient(NDArray weight) {
        try (NDArray own = weight.getGradient(); // a handle on the buffer, closed after use
                NDArray zero = own.getManager().create(0f)) {
            own.set(new NDIndex("..."), zero);
        }
    }

    /** Attaches a temporary to {@code scope}, which frees it at the end of the update. */
    private static NDArray scoped(NDManager scope, NDArray temporary) {
        temporary.attach(scope);
        return temporary;
    }

    private NDArray moment(Map<String, NDArray> moments, String name, NDArray weight) {
        return moments.computeIfAbsent(name, k -> {
            NDArray zero = weight.zerosLike();
            zero.setRequiresGradient(false);
            return zero;
        });
    }

    /** {@code min(1, maxNorm / ||g||)} over the accumulated gradients of every parameter. */
    private float clipScale() {
        double sumSquares = 0; // in float64: a float32 sum of squares overflows for gradients > 1e19
        boolean any = false;
        List<String> nonFinite = new ArrayList<>();
        for (Parameter p : parameters) {
            NDArray a = p.getArray();
            if (p.requiresGradient() && a.hasGradient()) {
                try (NDArray g = a.getGradient();
                        NDArray wide = g.toType(DataType.FLOAT64, false);
                        NDArray s = wide.square();
                        NDArray total = s.sum()) {
                    double v = total.getDouble();
                    if (!Double.isFinite(v)) {
                        nonFinite.add(names.getOrDefault(p.getId(), p.getName()));
                    }
                    sumSquares += v;
                    any = true;
                }
            }
        }
        if (!nonFinite.isEmpty()) {
            skippedSteps++;
            lastGradNorm = Float.NaN;
            LOGGER.warn("update {} skipped: non-finite gradients in {}", clipStep, nonFinite);
            return Float.NaN; // update() drops this step's gradients
        }
        if (!any) {
            return 1f;
        }
        double norm = Math.sqrt(sumSquares) / accumulationSteps;
        lastGradNorm = (float) norm;
        if (maxGradNorm <= 0 || norm <= maxGradNorm) {
            return 1f;
        }
        return (float) (maxGradNorm / (norm + 1e-6));
    }

    /**
     * Updates skipped because a gradient was infinite or NaN (the step's gradients are dropped).
     *
     * @return the skipped update count
     */
    public int getSkippedSteps() {
        return skippedSteps;
    }

    /**
     * Saves the moments and the update count to a safetensors file.
     *
     * @param file the file to write
     * @throws IOException if it cannot be written
     */
    public void saveState(Path file) throws IOException {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        firstMoments.forEach((k, v) -> tensors.put("m." + k, v));
        secondMoments.forEach((k, v) -> tensors.put("v." + k, v));
        try (NDManager scope = parameters.get(0).getArray().getManager().newSubManager()) {
            tensors.put(APPLIED_STEPS, scope.create(new long[] {appliedSteps}));
            SafeTensors.save(file, tensors, Map.of());
        }
    }

    /**
     * Restores a state written by {@link #saveState}; arrays are created in {@code manager}.
     *
     * @param file a file written by {@link #saveState}
     * @param manager the manager of the restored arrays
     * @throws IOException if it cannot be read
     */
    public void loadState(Path file, NDManager manager) throws IOException {
        Map<String, NDArray> tensors = SafeTensors.load(file, manager);
        if (!tensors.containsKey(APPLIED_STEPS)) {
            throw new IllegalArgumentException("optimizer state " + file + " has no " + APPLIED_STEPS);
        }
        int steps = (int) tensors.get(APPLIED_STEPS).getLong(0);
        firstMoments.clear();
        secondMoments.clear();
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            String key = e.getKey();
            NDArray value = e.getValue();
            if (key.startsWith("m.")) {
                firstMoments.put(key.substring(2), value);
            } else if (key.startsWith("v.")) {
                secondMoments.put(key.substring(2), value);
            }
        }
        appliedSteps = steps;
        clipStep = steps;
        for (String id : names.keySet()) {
            calls.put(id, steps * accumulationSteps);
        }
    }

    /**
     * Creates a builder; {@link Builder#setBlock} is required.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link GroupedAdamW}. */
    public static final class Builder extends OptimizerBuilder<Builder> {

        private Block block;
        private Tracker learningRate = Tracker.fixed(1e-3f);
        private float beta1 = 0.9f;
        private float beta2 = 0.95f;
        private float epsilon = 1e-8f;
        private float weightDecay = 0.1f;
        private float maxGradNorm = 1f;
        private int accumulationSteps = 1;

        Builder() {}

        @Override
        protected Builder self() {
            return this;
        }

        /**
         * The model whose parameters are optimized (for the groups and the global norm).
         *
         * @param block the model
         * @return this builder
         */
        public Builder setBlock(Block block) {
            this.block = block;
            return this;
        }

        /**
         * The learning-rate schedule over applied updates (default fixed 1e-3).
         *
         * @param tracker the schedule
         * @return this builder
         */
        public Builder optLearningRateTracker(Tracker tracker) {
            this.learningRate = tracker;
            return this;
        }

        /**
         * Adam's betas (default 0.9, 0.95 as upstream).
         *
         * @param beta1 the first moment's decay
         * @param beta2 the second moment's decay
         * @return this builder
         */
        public Builder optBetas(float beta1, float beta2) {
            this.beta1 = beta1;
            this.beta2 = beta2;
            return this;
        }

        /**
         * Adam's epsilon (default 1e-8).
         *
         * @param epsilon the epsilon
         * @return this builder
         */
        public Builder optEpsilon(float epsilon) {
            this.epsilon = epsilon;
            return this;
        }

        /**
         * The decoupled weight decay of the decay group (default 0.1).
         *
         * @param weightDecay the weight decay
         * @return this builder
         */
        public Builder optWeightDecay(float weightDecay) {
            this.weightDecay = weightDecay;
            return this;
        }

        /**
         * The maximum global gradient norm; 0 disables clipping (default 1).
         *
         * @param maxGradNorm the norm limit, or 0
         * @return this builder
         */
        public Builder optMaxGradNorm(float maxGradNorm) {
            this.maxGradNorm = maxGradNorm;
            return this;
        }

        /**
         * Micro-batches per update (default 1).
         *
         * @param steps the micro-batches per update (>= 1)
         * @return this builder
         */
        public Builder optAccumulationSteps(int steps) {
            this.accumulationSteps = steps;
            return this;
        }

        /**
         * Builds the optimizer.
         *
         * @return the optimizer
         */
        public GroupedAdamW build() {
            if (block == null) {
                throw new IllegalArgumentException("GroupedAdamW needs the block (setBlock)");
            }
            if (accumulationSteps < 1) {
                throw new IllegalArgumentException("accumulation steps must be >= 1, got " + accumulationSteps);
            }
            if (weightDecay < 0 || maxGradNorm < 0 || epsilon <= 0) {
                throw new IllegalArgumentException("weight decay and max grad norm must be >= 0, epsilon > 0");
            }
            if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1) {
                throw new IllegalArgumentException("betas must be in [0, 1), got " + beta1 + ", " + beta2);
            }
            return new GroupedAdamW(this);
        }
    }
}
