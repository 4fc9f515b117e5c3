package ai.djl.xlstm.components;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.Pair;
import ai.djl.xlstm.internal.TensorOps;

/**
 * Upstream {@code components/conv.py: CausalConv1d}: a depthwise (one filter per channel) causal
 * convolution with kernel size K and a bias: {@code y[t] = b + sum_k w[k] * x[t - K + 1 + k]}.
 *
 * <p>The state is the window of the last {@code K - 1} inputs, {@code [B, K - 1, D]}. The same
 * code serves a whole sequence and a single step: the window is prepended to the input, the
 * convolution runs without padding, and the new window is the tail of the concatenation. A missing
 * window means zeros (the causal left padding). K = 0 disables the convolution (identity).
 */
public class CausalConv1d extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final int kernelSize;
    private final long dim;
    private final Parameter weight;
    private final Parameter bias;

    /**
     * @param dim the number of channels D
     * @param kernelSize K, or 0 for none
     */
    public CausalConv1d(long dim, int kernelSize) {
        super(VERSION);
        if (kernelSize < 0) {
            throw new IllegalArgumentException("conv1d_kernel_size must be >= 0, got " + kernelSize);
        }
        this.kernelSize = kernelSize;
        this.dim = dim;
        if (kernelSize > 0) {
            weight =
                    addParameter(
                            "conv.weight",
                            Parameter.Type.WEIGHT,
                            new Shape(dim, 1, kernelSize),
                            new NormalInitializer(1f / kernelSize));
            bias = addParameter("conv.bias", Parameter.Type.BIAS, new Shape(dim), Initializer.ZEROS);
        } else {
            weight = null;
            bias = null;
        }
    }

    /**
     * Returns K; 0 when the convolution is disabled.
     *
     * @return K
     */
    public int getKernelSize() {
        return kernelSize;
    }

    /**
     * Returns a zero window {@code [B, K - 1, D]}, or null when K is 0.
     *
     * @param manager the manager of the window
     * @param device its device
     * @param batch the batch size
     * @return the window, or null
     */
    public NDArray zeroWindow(NDManager manager, Device device, long batch) {
        if (kernelSize == 0) {
            return null;
        }
        return manager.zeros(new Shape(batch, kernelSize - 1, dim), DataType.FLOAT32, device);
    }

    /**
     * Convolves {@code x [B, S, D]} continuing from {@code window [B, K - 1, D]} (null: zeros).
     *
     * @param ps the parameter store
     * @param x the input
     * @param window the previous window, or null
     * @param training whether in training mode
     * @return the output {@code [B, S, D]} and the new window (null when K is 0)
     */
    public Pair<NDArray, NDArray> forward(
            ParameterStore ps, NDArray x, NDArray window, boolean training) {
        if (kernelSize == 0) {
            return new Pair<>(x, null);
        }
        if (window == null) {
            window = zeroWindow(x.getManager(), x.getDevice(), x.getShape().get(0));
        }
        NDArray full = NDArrays.concat(new NDList(window, x), 1); // [B, K - 1 + S, D]
        NDArray y;
        if (x.getShape().get(1) == 1) {
            // One step (decoding): y = b + sum_k w[k] * full[k], element-wise; much cheaper per token
            // than a convolution call on a length-K input.
            NDArray w = scoped(value(ps, weight, x, training).transpose(1, 2, 0), x); // [D, 1, K] -> [1, K, D]
            y = full.mul(w).sum(new int[] {1}, true).add(value(ps, bias, x, training)); // [B, 1, D]
        } else if (TensorOps.gradMode(x.getManager())) {
            // Recorded for a backward pass: K shifted products, y = b + sum_k w[k] * full[k : k + S].
            // libtorch's depthwise convolution backward took ~48 ms on [8, 512, 256] (plus two
            // transposed copies); the K products' backward is a few element-wise passes.
            long len = x.getShape().get(1);
            NDArray w = scoped(value(ps, weight, x, training).transpose(1, 2, 0), x); // [1, K, D]
            y = value(ps, bias, x, training); // [D]
            for (int k = 0; k < kernelSize; k++) {
                NDArray tap = w.get(new NDIndex().addAllDim().addSliceDim(k, k + 1)); // [1, 1, D]
                y = full.get(new NDIndex().addAllDim().addSliceDim(k, k + len)).mul(tap).add(y); // [B, S, D]
            }
        } else {
            y = Conv1d.conv1d(
                            full.transpose(0, 2, 1), // [B, D, K - 1 + S]
                            value(ps, weight, x, training),
                            value(ps, bias, x, training),
                            new Shape(1),
                            new Shape(0),
                            new Shape(1),
                            (int) dim)
                    .singletonOrThrow()
                    .transpose(0, 2, 1); // [B, S, D]
        }
        long total = full.getShape().get(1);
        NDArray newWindow =
                kernelSize == 1
                        ? window
                        : full.get(new NDIndex().addAllDim().addSliceDim(total - kernelSize + 1, total));
        return new Pair<>(y, newWindow);
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        return forward(ps, x, null, training).getKey();
    }
}
