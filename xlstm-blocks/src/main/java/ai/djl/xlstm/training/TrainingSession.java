package ai.djl.xlstm.training;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.metric.Metrics;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.evaluator.Evaluator;
import ai.djl.training.listener.EvaluatorTrainingListener;
import ai.djl.training.listener.TrainingListener;
import ai.djl.training.tracker.Tracker;
import ai.djl.training.tracker.WarmUpTracker;
import ai.djl.training.util.ProgressBar;
import ai.djl.translate.TranslateException;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.internal.AtomicFiles;
import ai.djl.xlstm.internal.FolderLock;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Trains an xLSTM language model with DJL's {@link Trainer} and {@link EasyTrain}, counted in
 * optimizer updates: causal-LM loss, {@link GroupedAdamW} with linear warm-up then cosine decay,
 * global-norm clipping and gradient accumulation, a reproducible data order, validation loss and
 * perplexity, DJL's progress bar, a metrics CSV with a loss plot, and checkpoints that resume
 * exactly.
 *
 * <p>It is a thin layer over DJL: the model is a DJL {@link Model} (yours, e.g. a {@code ZooModel}
 * loaded through {@code Criteria}, or one the session loads from a folder), the trainer is {@code
 * model.newTrainer} with {@link CausalLmLoss} and {@link Perplexity} as its evaluators (DJL's
 * {@link EvaluatorTrainingListener} accumulates both, over the training batches and over each
 * validation), and every DJL {@link TrainingListener} added gets every event: {@code
 * onTrainingBegin} when the trainer is made (the first {@code train} or {@code validate}), {@code
 * onTrainingBatch} for every micro-batch, {@code onValidationBatch} for every validation batch,
 * {@code onEpoch} at the end of each <i>epoch</i>, which here is the run of updates that a
 * validation ends ({@code validateEvery} updates, or the whole call to {@code train} when 0; also
 * cut short by a requested stop), and {@code onTrainingEnd} when the session closes. So {@code
 * TrainingListener.Defaults.logging()} logs each epoch's loss and perplexity, training and
 * validation, as it does under {@code EasyTrain.fit}. The trainer's {@link Metrics} keep the last
 * {@value #METRICS_LIMIT} values of each metric.
 *
 * <p>A run's folder holds its checkpoints as subfolders {@code checkpoint-NNNNNN} (the step),
 * each an upstream-format checkpoint ({@code config.json}, {@code model.safetensors}: loadable by
 * {@link UpstreamCheckpoint}) plus {@code optimizer.safetensors}, {@code trainer_state.json} and
 * {@code metrics.csv}. A checkpoint is written into a temporary folder, renamed into place, and
 * only then named by the run's {@value UpstreamCheckpoint#LATEST} file, which is replaced
 * atomically; the previous checkpoint is kept, older ones are deleted. So a crash or a kill at any
 * moment leaves a complete checkpoint to resume from, and the run's folder loads as its newest
 * checkpoint ({@link UpstreamCheckpoint#resolveFolder}). The run's folder also gets {@code
 * metrics.csv} (all rows so far) and {@code serving.properties}. Everything a checkpoint holds is
 * forced to the disk before the renames that publish it, and each rename's folder after it, so a
 * power loss too leaves {@code latest} naming a complete checkpoint.
 *
 * <p>A session that writes a run's folder holds it ({@link FolderLock}) from its creation to
 * {@link #close}: a second session on the same folder, in this process or another, is refused.
 * Temporaries in the folder when the session claims it are leftovers of a killed writer and are
 * deleted (with a warning that counts them).
 *
 * <p>{@link #requestStop} (from any thread, e.g. a signal handler) ends training at the next step
 * boundary, with a checkpoint; {@link #requestStopWithoutCheckpoint} ends it at the next step or
 * micro-batch boundary without one. Either way the thread that trains leaves native code at a safe
 * point instead of being torn down inside it.
 */
public final class TrainingSession implements AutoCloseable {

    private static final String STATE_FILE = "trainer_state.json";
    private static final String METRICS_FILE = "metrics.csv";
    private static final String CHECKPOINT_PREFIX = "checkpoint-";
    private static final String SERVING_FILE = "serving.properties";

    /** The values of one metric the trainer's {@link Metrics} keep (they are cleared when this many). */
    public static final int METRICS_LIMIT = 10_000;
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();
    private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(TrainingSession.class);

    private final Model model;
    private final boolean ownsModel;
    private final Block block;
    private final TrainingSettings settings;
    private final Path outDir;
    private final FolderLock lock;
    private final GroupedAdamW optimizer;
    private final Perplexity perplexity = new Perplexity();
    private final MetricsLog metrics;
    private final List<TrainingListener> listeners = new ArrayList<>();
    private Trainer trainer;
    private int step;
    private long consumedBatches;
    private double elapsedSeconds;
    private volatile boolean stopRequested;
    private volatile boolean stopWithoutCheckpointRequested;

    /** What {@code trainer_state.json} holds. */
    private record SavedState(TrainingSettings settings, int step, long consumedBatches, double elapsedSeconds) {}

    private TrainingSession(Model model, boolean ownsModel, TrainingSettings settings, Path outDir, FolderLock lock,
            SavedState resumed, MetricsLog metrics) {
        this.model = model;
        this.ownsModel = ownsModel;
        this.block = model.getBlock();
        this.settings = settings;
        this.outDir = outDir;
        this.lock = lock;
        this.step = resumed == null ? 0 : resumed.step();
        this.consumedBatches = resumed == null ? 0 : resumed.consumedBatches();
        this.elapsedSeconds = resumed == null ? 0 : resumed.elapsedSeconds();
        Tracker schedule = schedule(settings);
        optimizer = GroupedAdamW.builder()
                .setBlock(block)
                .optLearningRateTracker(schedule)
                .optWeightDecay(settings.weightDecay())
                .optMaxGradNorm(settings.maxGradNorm())
                .optAccumulationSteps(settings.accumulationSteps())
                .build();
        this.metrics = metrics;
        listeners.add(new DivergenceGuard());
        if (outDir != null) {
            listeners.add(new MetricsListener());
            listeners.add(new CheckpointListener());
        }
    }

    /**
     * Adds a listener: a DJL {@link TrainingListener} gets every event of the trainer (see the
     * class comment for when each comes); an {@link UpdateListener} is also told of every update,
     * after the session's own listeners (the divergence guard, then the metrics and checkpoints of a
     * session that writes them). An {@link EvaluatorTrainingListener} added here (e.g. in {@code
     * TrainingListener.Defaults.logging()}) replaces the session's own.
     *
     * @param listener the listener
     * @return this session
     * @throws IllegalStateException once training or validation has begun
     */
    public TrainingSession addListener(TrainingListener listener) {
        Objects.requireNonNull(listener, "listener");
        if (trainer != null) {
            throw new IllegalStateException("add listeners before the first train or validate call");
        }
        listeners.add(listener);
        return this;
    }

    /**
     * The DJL trainer, made on first use: {@link CausalLmLoss}, {@link Perplexity} as an evaluator,
     * DJL's {@link EvaluatorTrainingListener} (unless one was added) and then every listener.
     */
    private Trainer trainer() {
        if (trainer == null) {
            DefaultTrainingConfig config = new DefaultTrainingConfig(new CausalLmLoss())
                    .optOptimizer(optimizer)
                    .optDevices(new Device[] {model.getNDManager().getDevice()})
                    .addEvaluator(perplexity);
            if (listeners.stream().noneMatch(l -> l instanceof EvaluatorTrainingListener)) {
                config.addTrainingListeners(new EvaluatorTrainingListener());
            }
            for (TrainingListener l : listeners) {
                config.addTrainingListeners(l);
            }
            trainer = model.newTrainer(config);
            Metrics bounded = new Metrics();
            bounded.setLimit(METRICS_LIMIT);
            trainer.setMetrics(bounded);
        }
        return trainer;
    }

    /** Linear warm-up from 0, then cosine decay to the minimum learning rate at the last step. */
    static Tracker schedule(TrainingSettings s) {
        int decaySteps = Math.max(1, s.steps() - s.warmupSteps());
        Tracker cosine = Tracker.cosine()
                .setBaseValue(s.learningRate())
                .optFinalValue(s.minLearningRate())
                .setMaxUpdates(decaySteps)
                .build();
        if (s.warmupSteps() == 0) {
            return cosine;
        }
        // WarmUpTracker hands the main tracker the number of updates since the warm-up ended.
        return WarmUpTracker.builder()
                .setMainTracker(cosine)
                .optWarmUpSteps(s.warmupSteps())
                .optWarmUpBeginValue(0f)
                .build();
    }

    /**
     * A fresh model of {@code config}, initialized from {@code settings.seed()} on {@code device}
     * (null: the default device).
     *
     * @param config the model's config
     * @param settings the settings of the run
     * @param outDir where checkpoints and metrics go (null: nowhere)
     * @param device the device of the model (null: the engine's default)
     * @return the session, holding {@code outDir} until it is closed
     * @throws IOException if a file cannot be read or written
     * @throws IllegalStateException if another session, here or in another process, writes {@code outDir}
     */
    public static TrainingSession fresh(XLstmConfig config, TrainingSettings settings, Path outDir, Device device)
            throws IOException {
        return fresh(XLstmLanguageModel.create(config), settings, outDir, device);
    }

    /**
     * Trains {@code block} (any DJL block mapping tokens {@code [B, T]} to logits {@code [B, T,
     * V]}, e.g. a baseline), initialized here from {@code settings.seed()}. Checkpoints need an
     * {@link XLstmLanguageModel}; pass a null {@code outDir} for other blocks.
     *
     * @param block the block to train, not yet initialized
     * @param settings the settings of the run
     * @param outDir where checkpoints and metrics go (null: nowhere)
     * @param device the device of the model (null: the engine's default)
     * @return the session, holding {@code outDir} until it is closed
     * @throws IOException if a file cannot be read or written
     * @throws IllegalArgumentException if checkpoints are asked of another block than an xLSTM language model
     * @throws IllegalStateException if another session, here or in another process, writes {@code outDir}
     */
    public static TrainingSession fresh(Block block, TrainingSettings settings, Path outDir, Device device)
            throws IOException {
        if (outDir != null && !(block instanceof XLstmLanguageModel)) {
            throw new IllegalArgumentException("checkpoints need an XLstmLanguageModel, got " + block.getClass().getSimpleName());
        }
        FolderLock lock = claim(outDir);
        Model model = Model.newInstance("xlstm", device);
        try {
            Engine.getInstance().setRandomSeed((int) settings.seed());
            block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 8));
            model.setBlock(block);
            return new TrainingSession(model, true, settings, outDir, lock, null, outDir == null ? null : new MetricsLog());
        } catch (RuntimeException e) {
            release(model, lock, e);
            throw e;
        }
    }

    /**
     * A new run that trains {@code model} as it is (its weights, e.g. a {@code ZooModel} loaded
     * through {@code Criteria}) with a fresh optimizer: fine-tuning. The model stays yours: the
     * session trains its block in place and does not close it. Checkpoints carry the model folder's
     * {@code tokenizer.json} and {@code generation_config.json} (see {@link
     * UpstreamCheckpoint#save(Model, Path)}), so the run's folder reloads as text.
     *
     * @param model the model to train, its block initialized (an {@link XLstmLanguageModel} when
     *     {@code outDir} is given)
     * @param settings the settings of the run
     * @param outDir where checkpoints and metrics go (null: nowhere)
     * @return the session, holding {@code outDir} until it is closed
     * @throws IOException if a file cannot be read or written
     * @throws IllegalArgumentException if the model has no initialized block, or checkpoints are
     *     asked of another block than an xLSTM language model
     * @throws IllegalStateException if another session, here or in another process, writes {@code outDir}
     */
    public static TrainingSession fromPretrained(Model model, TrainingSettings settings, Path outDir)
            throws IOException {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(settings, "settings");
        Block block = model.getBlock();
        if (block == null || !block.isInitialized()) {
            throw new IllegalArgumentException("the model " + model.getName() + " has "
                    + (block == null ? "no block" : "a block whose parameters are not initialized") + " to train");
        }
        if (outDir != null && !(block instanceof XLstmLanguageModel)) {
            throw new IllegalArgumentException("checkpoints need an XLstmLanguageModel, got " + block.getClass().getSimpleName());
        }
        FolderLock lock = claim(outDir);
        try {
            Engine.getInstance().setRandomSeed((int) settings.seed());
            return new TrainingSession(model, false, settings, outDir, lock, null, outDir == null ? null : new MetricsLog());
        } catch (RuntimeException e) {
            release(null, lock, e);
            throw e;
        }
    }

    /**
     * A new run that starts from the weights of {@code checkpoint} (any folder {@link
     * UpstreamCheckpoint#load} reads; a run's folder means its newest checkpoint) with a fresh
     * optimizer: fine-tuning. As {@link #fromPretrained(Model, TrainingSettings, Path)} on the
     * folder's model (whose model path is {@code checkpoint}), which the session owns.
     *
     * @param checkpoint the folder to start from
     * @param settings the settings of the run
     * @param outDir where checkpoints and metrics go (null: nowhere)
     * @param device the device of the model (null: the engine's default)
     * @return the session, holding {@code outDir} until it is closed
     * @throws IOException if a file cannot be read or written
     * @throws IllegalStateException if another session, here or in another process, writes {@code outDir}
     */
    public static TrainingSession fromPretrained(Path checkpoint, TrainingSettings settings, Path outDir, Device device)
            throws IOException {
        FolderLock lock = claim(outDir);
        Model model = null;
        try {
            model = loadModel(checkpoint, checkpoint, device);
            Engine.getInstance().setRandomSeed((int) settings.seed());
            return new TrainingSession(model, true, settings, outDir, lock, null, outDir == null ? null : new MetricsLog());
        } catch (IOException | RuntimeException e) {
            release(model, lock, e);
            throw e;
        }
    }

    /**
     * A DJL model holding the checkpoint {@code folder} stands for, its model path {@code
     * modelPath} (the folder, or the run holding it) as {@code Criteria} would set it, so that
     * {@link UpstreamCheckpoint#save(Model, Path)} finds the tokenizer and generation defaults.
     */
    private static Model loadModel(Path folder, Path modelPath, Device device) throws IOException {
        Model model = Model.newInstance("xlstm", device);
        try {
            model.setBlock(UpstreamCheckpoint.load(folder, model.getNDManager()));
            // the weights are in: this only records the folder (no DJL .params file to read)
            model.load(modelPath, null, Map.of("hasParameter", "false"));
            return model;
        } catch (MalformedModelException e) {
            model.close();
            throw new IOException("cannot open the model folder " + folder + ": " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * Continues the run checkpointed in {@code dir} exactly where it stopped: {@code dir} is a
     * run's folder (its newest checkpoint is used) or one checkpoint folder. New checkpoints go
     * into the run's folder.
     *
     * @param dir a run's folder or one checkpoint folder
     * @param steps a new total number of updates, or null to keep the checkpoint's
     * @param device the device of the model (null: the engine's default)
     * @return the session, holding the run's folder until it is closed
     * @throws IOException if a file cannot be read or written
     * @throws IllegalArgumentException if {@code steps} is not past the checkpoint's step
     * @throws IllegalStateException if another session, here or in another process, writes the run
     */
    public static TrainingSession resume(Path dir, Integer steps, Device device) throws IOException {
        Path first = UpstreamCheckpoint.resolveFolder(dir);
        Path parent = first.toAbsolutePath().getParent();
        Path runDir = !first.equals(dir) ? dir
                : parent != null && Files.isRegularFile(parent.resolve(UpstreamCheckpoint.LATEST)) ? parent : dir;
        FolderLock lock = claim(runDir);
        Model model = null;
        try {
            Path checkpoint = UpstreamCheckpoint.resolveFolder(dir); // again: the run may have moved on
            SavedState saved = readState(checkpoint);
            if (steps != null && steps <= saved.step()) {
                throw new IllegalArgumentException(checkpoint + " is already at step " + saved.step()
                        + "; a total of " + steps + " steps is not past it (steps count every update of the run)");
            }
            TrainingSettings settings = steps == null ? saved.settings() : saved.settings().withSteps(steps);
            Path csv = Files.isRegularFile(checkpoint.resolve(METRICS_FILE)) ? checkpoint.resolve(METRICS_FILE)
                    : runDir.resolve(METRICS_FILE);
            MetricsLog metrics = new MetricsLog(csv, saved.step());
            model = loadModel(checkpoint, runDir, device);
            TrainingSession session = new TrainingSession(model, true, settings, runDir, lock, saved, metrics);
            session.optimizer.loadState(checkpoint.resolve("optimizer.safetensors"), model.getNDManager());
            return session;
        } catch (IOException | RuntimeException e) {
            release(model, lock, e);
            throw e;
        }
    }

    /**
     * Claims {@code outDir} for this session (nothing when null) and deletes the temporaries a
     * killed writer left in it: with the folder held, none of them can be in use.
     */
    private static FolderLock claim(Path outDir) throws IOException {
        if (outDir == null) {
            return null;
        }
        FolderLock lock = FolderLock.acquire(outDir);
        try {
            List<String> removed = new ArrayList<>();
            try (java.util.stream.Stream<Path> entries = Files.list(outDir)) {
                for (Path p : entries.toList()) {
                    if (isTemporary(p)) {
                        AtomicFiles.deleteRecursively(p);
                        removed.add(p.getFileName().toString());
                    }
                }
            }
            if (!removed.isEmpty()) {
                LOGGER.warn("removed {} stale temporaries left in {} by an interrupted writer: {}", removed.size(),
                        outDir, removed);
            }
            return lock;
        } catch (IOException | RuntimeException e) {
            release(null, lock, e);
            throw e;
        }
    }

    /** Whether {@code p}, in a run's folder, is a temporary: a checkpoint being written, or a file being replaced. */
    private static boolean isTemporary(Path p) {
        String n = p.getFileName().toString();
        return n.startsWith("." + CHECKPOINT_PREFIX) && n.endsWith(".tmp") || AtomicFiles.isTemporary(p);
    }

    /** Closes what a failed factory opened, keeping {@code failure} the exception thrown. */
    private static void release(Model model, FolderLock lock, Exception failure) {
        if (model != null) {
            model.close();
        }
        if (lock != null) {
            try {
                lock.close();
            } catch (IOException e) {
                failure.addSuppressed(e);
            }
        }
    }

    /**
     * The settings a checkpoint was trained with.
     *
     * @param dir a run's folder (its newest checkpoint) or one checkpoint folder
     * @return the settings
     * @throws IOException if the trainer state cannot be read
     */
    public static TrainingSettings settingsOf(Path dir) throws IOException {
        return readState(UpstreamCheckpoint.resolveFolder(dir)).settings();
    }

    /**
     * The updates applied before a checkpoint was written.
     *
     * @param dir a run's folder (its newest checkpoint) or one checkpoint folder
     * @return the step
     * @throws IOException if the trainer state cannot be read
     */
    public static int stepOf(Path dir) throws IOException {
        return readState(UpstreamCheckpoint.resolveFolder(dir)).step();
    }

    private static SavedState readState(Path checkpoint) throws IOException {
        Path stateFile = checkpoint.resolve(STATE_FILE);
        if (!Files.isRegularFile(stateFile)) {
            throw new IllegalArgumentException("no training checkpoint in " + checkpoint + " (missing " + STATE_FILE + ")");
        }
        try {
            SavedState saved = GSON.fromJson(Files.readString(stateFile, StandardCharsets.UTF_8), SavedState.class);
            if (saved == null || saved.settings() == null) {
                throw new IllegalArgumentException(stateFile + " holds no training state");
            }
            return saved;
        } catch (com.google.gson.JsonParseException e) {
            throw new IllegalArgumentException(stateFile + " is not a valid training state: " + e.getMessage(), e);
        }
    }

    /**
     * The model being trained.
     *
     * @return the block
     */
    public Block getBlock() {
        return block;
    }

    /**
     * The DJL model holding it.
     *
     * @return the model
     */
    public Model getModel() {
        return model;
    }

    /**
     * Updates applied so far.
     *
     * @return the step
     */
    public int getStep() {
        return step;
    }

    /**
     * The metrics so far (null when the session writes nowhere).
     *
     * @return the metrics log, or null
     */
    public MetricsLog getMetrics() {
        return metrics;
    }

    /**
     * The settings of this run.
     *
     * @return the settings
     */
    public TrainingSettings getSettings() {
        return settings;
    }

    /**
     * Asks training to stop at the next step boundary, after writing a checkpoint (when the session
     * writes any). Safe from any thread, e.g. a signal handler; the step in progress completes.
     */
    public void requestStop() {
        stopRequested = true;
    }

    /**
     * Asks training to stop as soon as no native code runs: before the next micro-batch, or at the
     * end of the update in progress, without validating and without writing a checkpoint (a
     * checkpoint already being written completes). The run's newest checkpoint stays the one
     * before. Safe from any thread, e.g. a signal handler receiving its second signal. The session
     * may then hold a partial update (micro-batches accumulated but not applied): close it, and
     * resume the run from its newest checkpoint.
     */
    public void requestStopWithoutCheckpoint() {
        stopWithoutCheckpointRequested = true;
    }

    /** How a call to {@link #train} ended. */
    public enum Ending {
        /** It applied every update it was asked for. */
        COMPLETED,
        /** {@link #requestStop}: it stopped at a step boundary, after a checkpoint when the session writes any. */
        STOPPED,
        /** {@link #requestStopWithoutCheckpoint}: it stopped at a step or micro-batch boundary, writing nothing. */
        STOPPED_WITHOUT_CHECKPOINT
    }

    /**
     * The result of {@link #train}.
     *
     * @param steps the updates applied so far (of the run, also before a resume)
     * @param lastTrainLoss the last update's mean training loss
     * @param lastValLoss the last validation loss, NaN when none ran
     * @param lastValPerplexity the last validation perplexity, NaN when none ran
     * @param tokensPerSecond training throughput of this call
     * @param seconds training time of this call (validation excluded)
     * @param ending how training ended
     */
    public record Summary(int steps, double lastTrainLoss, double lastValLoss, double lastValPerplexity,
            double tokensPerSecond, double seconds, Ending ending) {

        /**
         * Checks that the ending is present.
         *
         * @param steps the updates applied so far (of the run, also before a resume)
         * @param lastTrainLoss the last update's mean training loss
         * @param lastValLoss the last validation loss, NaN when none ran
         * @param lastValPerplexity the last validation perplexity, NaN when none ran
         * @param tokensPerSecond training throughput of this call
         * @param seconds training time of this call (validation excluded)
         * @param ending how training ended
         * @throws NullPointerException if {@code ending} is null
         */
        public Summary {
            Objects.requireNonNull(ending, "ending");
        }

        /**
         * Whether training ended early because a stop was requested.
         *
         * @return whether it stopped early
         */
        public boolean stopped() {
            return ending != Ending.COMPLETED;
        }
    }

    /**
     * Trains until {@code settings.steps()} updates. The training set is visited in a seeded order
     * (each epoch a permutation drawn from the settings' seed and the epoch, in batches of {@code
     * batchSize}, the last incomplete one dropped) that a resumed run continues exactly; {@code
     * validation} (may be null) is evaluated every {@code validateEvery} updates and at the end.
     *
     * @param training the training set
     * @param validation the validation set, or null
     * @param progressBar whether to show DJL's progress bar
     * @return how far training got and its last figures
     * @throws IOException if a checkpoint or the metrics cannot be written
     * @throws TranslateException if a batch cannot be made
     */
    public Summary train(RandomAccessDataset training, RandomAccessDataset validation, boolean progressBar)
            throws IOException, TranslateException {
        return train(training, validation, progressBar, settings.steps());
    }

    /**
     * As {@link #train(RandomAccessDataset, RandomAccessDataset, boolean)}, but stops (and
     * checkpoints) after update {@code stopStep}, as an interrupted run would; the schedule still
     * runs to {@code settings.steps()}.
     *
     * @param training the training set
     * @param validation the validation set, or null
     * @param progressBar whether to show DJL's progress bar
     * @param stopStep the update after which to stop
     * @return how far training got and its last figures
     * @throws IOException if a checkpoint or the metrics cannot be written
     * @throws TranslateException if a batch cannot be made
     */
    public Summary train(RandomAccessDataset training, RandomAccessDataset validation, boolean progressBar,
            int stopStep) throws IOException, TranslateException {
        if (stopStep > settings.steps()) {
            throw new IllegalArgumentException("stop step " + stopStep + " is past the last step " + settings.steps());
        }
        SeededBatchSampler sampler =
                new SeededBatchSampler(settings.batchSize(), settings.seed(), true, consumedBatches);
        Trainer trainer = trainer();
        Iterator<Batch> batches = training.getData(trainer.getManager(), sampler).iterator();
        ProgressBar bar = progressBar ? new ProgressBar("Training", settings.steps()) : null;
        if (bar != null) {
            bar.start(step);
        }
        long tokens = 0;
        double trainSeconds = 0;
        double lastTrain = Double.NaN;
        double[] lastVal = {Double.NaN, Double.NaN};
        Ending ending = Ending.COMPLETED;
        while (step < stopStep) {
            float lr = optimizer.currentLearningRate();
            long start = System.nanoTime();
            double stepLoss = 0;
            for (int micro = 0; micro < settings.accumulationSteps(); micro++) {
                if (stopWithoutCheckpointRequested) {
                    break;
                }
                try (Batch batch = batches.next()) {
                    EasyTrain.trainBatch(trainer, batch); // onTrainingBatch: the evaluators take the batch
                    trainer.step();
                    // the batch's loss, as DJL's EvaluatorTrainingListener accumulated it
                    stepLoss += trainer.getLoss().getAccumulator(EvaluatorTrainingListener.TRAIN_ALL);
                    tokens += batch.getData().get(0).size();
                }
                consumedBatches++;
            }
            if (stopWithoutCheckpointRequested) {
                // a partial update (micro-batches accumulated, none applied) is dropped with the
                // process; an applied one is counted, and neither is validated nor checkpointed
                if (optimizer.getAppliedSteps() > step) {
                    step++;
                }
                ending = Ending.STOPPED_WITHOUT_CHECKPOINT;
                break;
            }
            step++;
            double seconds = (System.nanoTime() - start) / 1e9;
            trainSeconds += seconds;
            elapsedSeconds += seconds;
            stepLoss /= settings.accumulationSteps();
            boolean last = step == stopStep;
            boolean epochEnds = last || settings.validateEvery() > 0 && step % settings.validateEvery() == 0;
            boolean validate = validation != null && Double.isFinite(stepLoss) && epochEnds;
            double[] val = validate ? validate(validation, true) : new double[] {Double.NaN, Double.NaN};
            if (validate) {
                lastVal = val;
            }
            lastTrain = stepLoss;
            if (stopWithoutCheckpointRequested) {
                // the second request came while this step validated: the step counts, nothing is written
                ending = Ending.STOPPED_WITHOUT_CHECKPOINT;
                break;
            }
            boolean stopped = stopRequested && !last;
            UpdateListener.Update update = new UpdateListener.Update(step, stepLoss, lr, optimizer.getLastGradNorm(),
                    val[0], val[1], tokens / Math.max(1e-9, trainSeconds), elapsedSeconds, last, stopped);
            for (TrainingListener l : listeners) {
                if (l instanceof UpdateListener u) {
                    u.onUpdate(this, update);
                }
            }
            if (epochEnds || stopped) {
                trainer.notifyListeners(listener -> listener.onEpoch(trainer));
            }
            if (bar != null) {
                bar.update(step, String.format(Locale.ROOT, "loss %.4f%s", stepLoss,
                        Double.isNaN(lastVal[0]) ? "" : String.format(Locale.ROOT, " val %.4f", lastVal[0])));
            }
            if (stopped) {
                ending = Ending.STOPPED;
                break;
            }
        }
        if (bar != null) {
            bar.end();
        }
        return new Summary(step, lastTrain, lastVal[0], lastVal[1], tokens / Math.max(1e-9, trainSeconds), trainSeconds,
                ending);
    }

    /**
     * The validation loss (mean NLL per labelled token) and perplexity over the first {@code
     * validationBatches} batches (all when 0), in order: each batch goes through DJL's {@link
     * EasyTrain#validateBatch} ({@code onValidationBatch}), and the figures are the {@link
     * Perplexity} evaluator's validation accumulator. Listeners see this validation in the current
     * epoch's.
     *
     * @param validation the validation set
     * @return {@code {loss, perplexity}}
     * @throws IOException if a batch cannot be read
     * @throws TranslateException if a batch cannot be made
     */
    public double[] validate(RandomAccessDataset validation) throws IOException, TranslateException {
        return validate(validation, false);
    }

    /** As {@link #validate(RandomAccessDataset)}; {@code interruptible}: a stop without checkpoint ends it early. */
    private double[] validate(RandomAccessDataset validation, boolean interruptible)
            throws IOException, TranslateException {
        SeededBatchSampler order = new SeededBatchSampler(settings.batchSize(), 0, false, 0);
        long perPass = validation.size() / settings.batchSize();
        long count = settings.validationBatches() == 0 ? perPass : Math.min(perPass, settings.validationBatches());
        Trainer trainer = trainer();
        for (Evaluator e : trainer.getEvaluators()) {
            e.resetAccumulator(EvaluatorTrainingListener.VALIDATE_EPOCH);
        }
        Iterator<Batch> it = validation.getData(trainer.getManager(), order).iterator();
        for (long i = 0; i < count && !(interruptible && stopWithoutCheckpointRequested); i++) {
            try (Batch batch = it.next()) {
                EasyTrain.validateBatch(trainer, batch); // onValidationBatch: the evaluators take the batch
            }
        }
        double loss = perplexity.meanNegativeLogLikelihood(EvaluatorTrainingListener.VALIDATE_EPOCH);
        return new double[] {loss, Math.exp(loss)};
    }

    /**
     * Writes a checkpoint of the current step (model, optimizer state, trainer state, metrics) as a
     * new subfolder of the run's folder, then names it in the run's {@value
     * UpstreamCheckpoint#LATEST} file; keeps the previous checkpoint and deletes older ones. A
     * crash at any moment leaves the previous or the new checkpoint complete and named.
     *
     * @throws IOException if the checkpoint cannot be written
     */
    public void checkpoint() throws IOException {
        if (outDir == null) {
            throw new IllegalStateException("this session writes no checkpoints (no output folder)");
        }
        Files.createDirectories(outDir);
        String name = String.format(Locale.ROOT, "%s%06d", CHECKPOINT_PREFIX, step);
        Path latestFile = outDir.resolve(UpstreamCheckpoint.LATEST);
        String previous = Files.isRegularFile(latestFile) ? Files.readString(latestFile, StandardCharsets.UTF_8).trim() : null;
        if (!name.equals(previous)) {
            Path tmp = outDir.resolve("." + name + ".tmp");
            AtomicFiles.deleteRecursively(tmp);
            UpstreamCheckpoint.save(model, tmp);
            for (String file : UpstreamCheckpoint.TEXT_FILES) { // the run's own (e.g. a tokenizer given to the CLI) win
                if (Files.isRegularFile(outDir.resolve(file))) {
                    Files.copy(outDir.resolve(file), tmp.resolve(file), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            optimizer.saveState(tmp.resolve("optimizer.safetensors"));
            Files.writeString(tmp.resolve(STATE_FILE),
                    GSON.toJson(new SavedState(settings, step, consumedBatches, elapsedSeconds)), StandardCharsets.UTF_8);
            metrics.write(tmp.resolve(METRICS_FILE));
            AtomicFiles.forceTree(tmp); // on the disk before the renames name it
            Path target = outDir.resolve(name);
            AtomicFiles.deleteRecursively(target); // a leftover of a crashed run, never named by latest
            AtomicFiles.move(tmp, target);
            AtomicFiles.writeString(latestFile, name + "\n");
        }
        metrics.write(outDir.resolve(METRICS_FILE));
        // the run's folder loads as its newest checkpoint, also as text
        List<String> beside = new ArrayList<>(UpstreamCheckpoint.TEXT_FILES);
        beside.add(SERVING_FILE);
        for (String file : beside) {
            Path source = outDir.resolve(name).resolve(file);
            if (!Files.exists(outDir.resolve(file)) && Files.isRegularFile(source)) {
                AtomicFiles.write(outDir.resolve(file), Files.readAllBytes(source));
            }
        }
        pruneCheckpoints(name, previous);
    }

    /** Deletes every checkpoint subfolder but {@code keep} and {@code previous}, and leftover temporaries. */
    private void pruneCheckpoints(String keep, String previous) throws IOException {
        try (java.util.stream.Stream<Path> entries = Files.list(outDir)) {
            for (Path p : entries.toList()) {
                String n = p.getFileName().toString();
                boolean checkpoint = n.startsWith(CHECKPOINT_PREFIX) && Files.isDirectory(p);
                if ((checkpoint && !n.equals(keep) && !n.equals(previous)) || isTemporary(p)) {
                    AtomicFiles.deleteRecursively(p);
                }
            }
        }
    }

    /**
     * Closes the trainer (its listeners get {@code onTrainingEnd}) and the model the session loaded
     * (not a model passed to {@link #fromPretrained(Model, TrainingSettings, Path)}), and releases
     * the run's folder.
     */
    @Override
    public void close() {
        try {
            try {
                if (trainer != null) {
                    trainer.close();
                }
            } finally {
                if (ownsModel) {
                    model.close();
                }
            }
        } finally {
            if (lock != null) {
                try {
                    lock.close();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException("cannot release " + outDir, e);
                }
            }
        }
    }

    /** Stops training at a non-finite loss, naming the step. */
    private static final class DivergenceGuard implements UpdateListener {
        @Override
        public void onUpdate(TrainingSession session, Update u) {
            if (!Double.isFinite(u.loss())) {
                throw new IllegalStateException("training diverged: loss " + u.loss() + " at step " + u.step());
            }
        }
    }

    /** One metrics row every {@code logEvery} updates (the mean loss since the last row), and at validations. */
    private final class MetricsListener implements UpdateListener {
        private double lossSum;
        private int lossCount;

        @Override
        public void onUpdate(TrainingSession session, Update u) {
            lossSum += u.loss();
            lossCount++;
            boolean validated = !Double.isNaN(u.validationLoss());
            if (u.step() % settings.logEvery() == 0 || u.last() || validated) {
                metrics.add(new MetricsLog.Row(u.step(), lossSum / lossCount, u.validationLoss(),
                        u.validationPerplexity(), u.learningRate(), u.gradNorm(), u.tokensPerSecond(), u.elapsedSeconds()));
                lossSum = 0;
                lossCount = 0;
            }
        }
    }

    /** A checkpoint every {@code checkpointEvery} updates, after the last, and before a requested stop. */
    private final class CheckpointListener implements UpdateListener {
        @Override
        public void onUpdate(TrainingSession session, Update u) throws IOException {
            if (u.last() || u.stopping() || settings.checkpointEvery() > 0 && u.step() % settings.checkpointEvery() == 0) {
                checkpoint();
            }
        }
    }
}
