package ai.djl.xlstm.it;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * A separate JVM for {@link HalfPrecisionProcessTest}, since a failing call aborts the JVM:
 * {@code ops N} runs every float16 engine call the 16-bit weights use N times; {@code model DIR N}
 * loads the checkpoint in DIR as float16 weights and runs N forward passes and decode steps, casting
 * the weights to float32 and back every iteration; {@code bf16} makes one bfloat16 array, which DJL
 * 0.36's PyTorch engine answers by aborting. Prints {@code OK} and the count when done.
 */
public final class HalfPrecisionProcess {

    private HalfPrecisionProcess() {}

    public static void main(String[] args) throws Exception {
        System.setProperty("ai.djl.offline", "true");
        DataType half = DataType.FLOAT16;
        try (NDManager root = NDManager.newBaseManager()) {
            switch (args[0]) {
                case "bf16" -> {
                    System.out.println("creating a bfloat16 array");
                    System.out.flush();
                    root.zeros(new Shape(2), DataType.BFLOAT16);
                    System.out.println("OK 1");
                }
                case "ops" -> {
                    int n = Integer.parseInt(args[1]);
                    for (int i = 0; i < n; i++) {
                        try (NDManager m = root.newSubManager()) {
                            NDArray w = m.randomNormal(new Shape(32, 64)).mul(0.1f);
                            NDArray x = m.randomNormal(new Shape(4, 64));
                            NDArray h = w.toType(half, false);
                            check(h.getDataType() == half && h.toType(DataType.FLOAT32, false).getDataType() == DataType.FLOAT32);
                            check(m.zeros(new Shape(3), half).add(1f).sum().getDataType() == half);
                            check(m.randomNormal(0, 1, new Shape(5), half, m.getDevice()).getDataType() == half);
                            byte[] bytes = h.toByteArray();
                            ByteBuffer buffer = m.allocateDirect(bytes.length).order(ByteOrder.nativeOrder());
                            buffer.put(bytes).flip();
                            try (NDArray borrowed = m.create(buffer, h.getShape(), half)) {
                                check(borrowed.duplicate().eq(h).all().getBoolean());
                            }
                            NDArray y = Linear.linear(x.toType(half, false), h, null).singletonOrThrow();
                            NDArray z = x.toType(half, false).matMul(h.transpose());
                            check(y.toType(DataType.FLOAT32, false).sub(z.toType(DataType.FLOAT32, false)).abs().max().getFloat() < 1e-2);
                            h.add(h).mul(h).getNDArrayInternal().sigmoid().exp().toType(DataType.FLOAT32, false);
                            NDArray ids = m.create(new long[] {0, 5, 31});
                            Embedding.embedding(ids, h, SparseFormat.DENSE).singletonOrThrow().toType(DataType.FLOAT32, false);
                            NDArray target = m.zeros(h.getShape(), half);
                            target.intern(h.duplicate());
                            check(target.eq(h).all().getBoolean());
                        }
                    }
                    System.out.println("OK " + n);
                }
                case "model" -> {
                    int n = Integer.parseInt(args[2]);
                    XLstmLanguageModel model = UpstreamCheckpoint.load(Path.of(args[1]), root, null, half);
                    for (int i = 0; i < n; i++) {
                        try (NDManager m = root.newSubManager()) {
                            ParameterStore ps = new ParameterStore(m, false);
                            NDArray tokens = m.create(new long[][] {{1, 2, 3, 4, 5, 6, 7, 8}});
                            var out = model.forward(ps, tokens, null, false);
                            var step = model.forwardLast(ps, m.create(new long[][] {{3}}), out.state());
                            check(step.logits().getDataType() == DataType.FLOAT32);
                        }
                        model.castWeights(DataType.FLOAT32);
                        model.castWeights(half);
                    }
                    System.out.println("OK " + n);
                }
                default -> throw new IllegalArgumentException(args[0]);
            }
        }
    }

    private static void check(boolean condition) {
        if (!condition) {
            throw new IllegalStateException("check failed");
        }
    }
}
