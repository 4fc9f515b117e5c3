package ai.djl.xlstm.internal.decode;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.io.ParameterNames;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.LmOutput;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.state.XLstmState;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.function.IntConsumer;

/**
 * Batch-1 decode: ms/token of the libtorch step (as {@code Stepper.step}: forwardLast in a scratch
 * manager, logits to Java, the state kept) against the CPU decode step (Vector API, Vector API
 * split over two threads, plain Java), and the memory-bandwidth floor: weight bytes / the
 * bandwidth of one thread's matrix-vector product over a 64 MB matrix. Each figure is the median
 * of {@value #ROUNDS} rounds of {@value #STEPS} tokens, wall time and the calling thread's CPU
 * time (the machine is shared: wall time includes time the thread waited for a core). Off by
 * default; run with
 * {@code mvn -o -q -pl xlstm-blocks test -Dtest=CpuDecodeBenchmark -Dxlstm.bench=true}.
 */
@EnabledIfSystemProperty(named = "xlstm.bench", matches = "true")
class CpuDecodeBenchmark {

    private static final int ROUNDS = 9;
    private static final int STEPS = 50;
    private static int rounds = ROUNDS;
    private static int steps = STEPS;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    @Test
    void benchmark() throws Exception {
        System.out.println("[bench] load before: " + Files.readString(Path.of("/proc/loadavg")).strip());
        double gbs = bandwidth(Kernels.preferred());
        System.out.printf("[bench] matVec over a 64 MB float32 matrix [65536, 256] (%s): median %.1f GB/s%n",
                Kernels.preferred().name(), gbs);
        try (NDManager manager = NDManager.newBaseManager()) {
            Path austen = Path.of("../xlstm-zoo/src/main/resources/ai/djl/xlstm/zoo/models/xlstm-austen-small");
            if (Files.isDirectory(austen)) {
                run("xlstm-austen-small", UpstreamCheckpoint.load(austen, manager), manager, gbs);
            }
            for (String name : new String[] {"neurips-7.5m", "large-27.7m"}) {
                Path bench = Path.of("../xlstm-examples/src/main/resources/bench/" + name + ".json");
                if (Files.isRegularFile(bench)) {
                    try (NDManager models = manager.newSubManager()) {
                        run(name + " (random)", random(bench, models), models, gbs);
                    }
                }
            }
        }
        System.out.println("[bench] load after: " + Files.readString(Path.of("/proc/loadavg")).strip());
    }

    /**
     * The 7B slice (1.22B parameters, 4.9 GB of float32 weights, held twice: libtorch's and the
     * decoder's copy): off unless {@code -Dxlstm.bench.slice=true}, fewer and shorter rounds, and
     * the JVM needs a heap of about 6 GB (the surefire argLine gives 4 GB: run {@link #main}).
     */
    @Test
    @EnabledIfSystemProperty(named = "xlstm.bench.slice", matches = "true")
    void sliceOf7b() throws Exception {
        double gbs = bandwidth(Kernels.preferred());
        try (NDManager manager = NDManager.newBaseManager()) {
            Path bench = Path.of("../xlstm-examples/src/main/resources/bench/xlstm-7b-slice.json");
            rounds = 3;
            steps = 4;
            run("xlstm-7b-slice (random)", random(bench, manager), manager, gbs);
        }
    }

    /** Runs {@link #sliceOf7b} outside surefire, for a heap of one's own choosing. */
    public static void main(String[] args) throws Exception {
        System.out.println("[bench] load before: " + Files.readString(Path.of("/proc/loadavg")).strip());
        new CpuDecodeBenchmark().sliceOf7b();
        System.out.println("[bench] load after: " + Files.readString(Path.of("/proc/loadavg")).strip());
    }

    private static XLstmLanguageModel random(Path config, NDManager manager) throws Exception {
        XLstmLanguageModel model = TestModels.randomModel(XLstmConfig.read(config), manager, 1, 0.02f);
        for (Parameter p : ParameterNames.of(model).values()) {
            p.getArray().setRequiresGradient(false); // randomModel records gradients
        }
        return model;
    }

    private static void run(String name, XLstmLanguageModel model, NDManager manager, double gbs) {
        long bytes = 0;
        for (Parameter p : ParameterNames.of(model).values()) {
            bytes += p.getArray().size() * 4L;
        }
        double floorMs = bytes / (gbs * 1e9) * 1e3;
        System.out.printf("[bench] %s: %.1f MB of weights, floor at %.1f GB/s: %.2f ms/token%n", name, bytes / 1e6,
                gbs, floorMs);
        // the CPU step first: libtorch's OpenMP threads spin a while after each op
        // products of at least Kernels.SPLIT_MIN_WEIGHTS weights run over Kernels.threads() threads
        // (-Dai.djl.xlstm.decode.threads=1 measures one)
        Kernels[] kinds = {Kernels.preferred(), Kernels.scalar()};
        double[][] cpu = new double[kinds.length][];
        for (int i = 0; i < kinds.length; i++) {
            CpuDecoder decoder = CpuDecoder.of(model, kinds[i]).orElseThrow();
            CpuDecoder.State state = decoder.newState();
            float[] sink = new float[1];
            cpu[i] = time(4, t -> sink[0] += decoder.step(t % decoder.vocabSize(), state)[0]);
        }
        ParameterStore ps = new ParameterStore(manager, false);
        NDManager[] stateManager = {manager.newSubManager()};
        XLstmState[] state = {model.zeroState(stateManager[0], manager.getDevice(), 1)};
        int vocab = model.getConfig().vocabSize();
        double[] torch = time(2, t -> {
            try (NDManager scratch = manager.newSubManager()) {
                NDArray input = scratch.create(new long[] {t % vocab}).reshape(1, 1);
                LmOutput out = model.forwardLast(ps, input, state[0]);
                if (out.logits().toFloatArray().length != vocab) {
                    throw new IllegalStateException("logits");
                }
                NDManager next = manager.newSubManager();
                state[0] = out.state().attach(next);
                stateManager[0].close();
                stateManager[0] = next;
            }
        });
        stateManager[0].close();
        report(name, "libtorch step", torch, floorMs, torch);
        for (int i = 0; i < kinds.length; i++) {
            report(name, "CPU step " + kinds[i].name() + ", large products over " + Kernels.threads() + " threads",
                    cpu[i], floorMs, torch);
        }
    }

    private static void report(String name, String what, double[] ms, double floorMs, double[] torch) {
        System.out.printf("[bench] %s: %-38s wall %5.2f ms/token (%3.0f%% of the bandwidth limit, %4.1fx libtorch),"
                        + " thread CPU %5.2f ms/token%n",
                name, what, ms[0], 100 * floorMs / ms[0], torch[0] / ms[0], ms[1]);
    }

    /** {median wall ms, median thread-CPU ms} per token of {@code step} over ROUNDS rounds. */
    private static double[] time(int warmupRounds, IntConsumer step) {
        Random random = new Random(1);
        double[] wall = new double[rounds];
        double[] cpu = new double[rounds];
        for (int r = -warmupRounds; r < rounds; r++) {
            long c0 = THREADS.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            for (int t = 0; t < steps; t++) {
                step.accept(random.nextInt(1 << 20));
            }
            if (r >= 0) {
                wall[r] = (System.nanoTime() - t0) / 1e6 / steps;
                cpu[r] = (THREADS.getCurrentThreadCpuTime() - c0) / 1e6 / steps;
            }
        }
        return new double[] {median(wall), median(cpu)};
    }

    private static double bandwidth(Kernels k) {
        int rows = 65536;
        int cols = 256; // 64 MB, larger than the last-level cache, in rows as long as the models'
        float[] w = new float[rows * cols];
        Random random = new Random(3);
        for (int i = 0; i < w.length; i += 97) {
            w[i] = random.nextFloat();
        }
        float[] x = new float[cols];
        Arrays.fill(x, 0.5f);
        float[] y = new float[rows];
        double[] gbs = new double[15];
        for (int r = -5; r < gbs.length; r++) {
            long start = System.nanoTime();
            k.matVec(w, 0, rows, cols, x, 0, y, 0);
            if (r >= 0) {
                gbs[r] = w.length * 4.0 / (System.nanoTime() - start);
            }
        }
        return median(gbs);
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v[v.length / 2];
    }
}
