package ai.djl.xlstm.components;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.util.HashMap;
import java.util.Map;

/**
 * Base class of every xLSTM block.
 *
 * <p>All our blocks know their dimensions from their config, so every parameter has a fixed
 * shape at construction and the input shapes given to {@link #initialize} are not needed to size
 * them. DJL {@link Linear} children are the exception: they are sized in {@code prepare} from their
 * input shape, which {@link #addLinear} records.
 *
 * <p>Child blocks and parameters carry the names of the upstream PyTorch modules ({@code proj_up},
 * {@code mlstm_cell}, {@code _recurrent_kernel_}, ...), so that {@link
 * ai.djl.xlstm.io.ParameterNames} can derive the upstream {@code state_dict} key of every
 * parameter from the block tree alone.
 */
public abstract class AbstractXLstmBlock extends AbstractBlock {

    private final Map<Block, Shape> childInputShapes = new HashMap<>();

    /**
     * Creates the block.
     *
     * @param version the block's version, as DJL's {@link AbstractBlock} stores it
     */
    protected AbstractXLstmBlock(byte version) {
        super(version);
    }

    /**
     * Adds a DJL {@link Linear} child mapping {@code in} to {@code out} features, its weight
     * initialized by {@code weightInit} and its bias (if any) by {@code biasInit} (null: zeros).
     *
     * @param name the child's name (its upstream name)
     * @param in the input features
     * @param out the output features
     * @param bias whether it has a bias
     * @param weightInit the weight's initializer
     * @param biasInit the bias's initializer, or null for zeros
     * @return the child
     */
    protected final Linear addLinear(
            String name, long in, long out, boolean bias,
            ai.djl.training.initializer.Initializer weightInit,
            ai.djl.training.initializer.Initializer biasInit) {
        Linear linear = addChildBlock(name, Linear.builder().setUnits(out).optBias(bias).build());
        childInputShapes.put(linear, new Shape(1, in));
        linear.setInitializer(weightInit, Parameter.Type.WEIGHT);
        if (bias) {
            linear.setInitializer(
                    biasInit != null ? biasInit : ai.djl.training.initializer.Initializer.ZEROS,
                    Parameter.Type.BIAS);
        }
        return linear;
    }

    /**
     * Adds a parameter with a fixed shape.
     *
     * @param name the parameter's name (its upstream name)
     * @param type the parameter's type
     * @param shape its shape
     * @param init its initializer
     * @return the parameter
     */
    protected final Parameter addParameter(
            String name, Parameter.Type type, Shape shape, ai.djl.training.initializer.Initializer init) {
        Parameter.Builder builder = Parameter.builder().setName(name).setType(type).optShape(shape);
        if (init != null) {
            builder.optInitializer(init);
        }
        return addParameter(builder.build());
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        for (Block child : children.values()) {
            Shape shape = childInputShapes.get(child);
            child.initialize(manager, dataType, shape != null ? new Shape[] {shape} : inputShapes);
        }
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    /**
     * Attaches an array computed from parameters alone (a transposed or shifted weight) to the
     * manager of the input {@code like}, so that it is freed with the request's or step's manager.
     * DJL attaches a result to its first operand's manager, which for such arrays is the model's
     * own manager: left there, they would accumulate with every forward pass.
     *
     * @param fromParameters the array computed from parameters
     * @param like an input of the forward pass
     * @return {@code fromParameters}, attached to {@code like}'s manager
     */
    protected static NDArray scoped(NDArray fromParameters, NDArray like) {
        fromParameters.attach(like.getManager());
        return fromParameters;
    }

    /**
     * Returns the value of {@code parameter} on the device of {@code like}, in {@code like}'s
     * floating-point type: a float16 weight (see {@link
     * ai.djl.xlstm.model.XLstmLanguageModel#castWeights}) used with float32 activations is widened
     * to a float32 copy that belongs to {@code like}'s manager. For a non-floating {@code like}
     * (token ids) the value is returned as it is stored.
     *
     * @param ps the parameter store
     * @param parameter the parameter
     * @param like an array on the wanted device
     * @param training whether in training mode
     * @return the parameter's value
     */
    protected static NDArray value(
            ParameterStore ps, Parameter parameter, NDArray like, boolean training) {
        NDArray v = ps.getValue(parameter, like.getDevice(), training);
        DataType type = like.getDataType();
        if (v.getDataType() == DataType.FLOAT16 && type != DataType.FLOAT16 && type.isFloating()) {
            return scoped(v.toType(type, false), like);
        }
        return v;
    }

    /**
     * Applies a DJL {@link Linear} child to {@code x}. With float16 weights and a float32 {@code x},
     * the product runs in float16 (the engine accumulates in float32) and the output is float32
     * again: see {@link #linear}.
     *
     * @param ps the parameter store
     * @param block the child
     * @param x the input
     * @param training whether in training mode
     * @return the output
     */
    protected static NDArray apply(
            ParameterStore ps, Block block, NDArray x, boolean training) {
        if (block instanceof Linear) {
            PairList<String, Parameter> params = block.getDirectParameters();
            Parameter weight = params.get("weight");
            NDArray w = ps.getValue(weight, x.getDevice(), training);
            if (w.getDataType() == DataType.FLOAT16 && x.getDataType() != DataType.FLOAT16) {
                Parameter bias = params.get("bias");
                return linear(x, w, bias == null ? null : ps.getValue(bias, x.getDevice(), training));
            }
        }
        return block.forward(ps, new NDList(x), training).singletonOrThrow();
    }

    /**
     * Applies DJL {@link Linear} children to the same {@code x} as one product, their outputs side
     * by side on the last axis, in {@code x}'s type whatever the type their weights are stored in
     * (float16 weights are widened, see {@link #value}): for the small gate projections, whose
     * pre-activations go through exponentials and must not carry float16 round-off. One product
     * also gives one gradient for {@code x} in the backward pass instead of one per child and
     * their sum (the gates' outputs are a few columns wide, where libtorch's products are slow).
     *
     * @param ps the parameter store
     * @param x the input {@code [..., IN]}
     * @param training whether in training mode
     * @param blocks the children, all with a bias or all without, of input size IN
     * @return the outputs {@code [..., OUT_1 + OUT_2 + ...]}, of {@code x}'s type
     */
    protected static NDArray applyWide(ParameterStore ps, NDArray x, boolean training, Linear... blocks) {
        NDList weights = new NDList(blocks.length);
        NDList biases = new NDList(blocks.length);
        for (Linear block : blocks) {
            PairList<String, Parameter> params = block.getDirectParameters();
            weights.add(value(ps, params.get("weight"), x, training));
            Parameter bias = params.get("bias");
            if (bias != null) {
                biases.add(value(ps, bias, x, training));
            }
        }
        if (!biases.isEmpty() && biases.size() != blocks.length) {
            throw new IllegalArgumentException("applyWide: some of the " + blocks.length + " linear blocks lack a bias");
        }
        NDArray w = blocks.length == 1 ? weights.get(0) : scoped(NDArrays.concat(weights, 0), x); // [OUT, IN]
        NDArray b = biases.isEmpty() ? null : biases.size() == 1 ? biases.get(0) : scoped(NDArrays.concat(biases, 0), x);
        return Linear.linear(x, w, b).singletonOrThrow();
    }

    /**
     * From this many positions on the CPU, a float16 weight is widened to float32 for the product:
     * libtorch's CPU float16 GEMM runs at about half the float32 speed where the CPU has no
     * AVX512-FP16 (a prefill of 2,048 tokens of {@code large-27.7m}: 23.8 s in float16, 10.9 s in
     * float32), and widening a weight costs one pass over it. Fewer positions (libtorch decode
     * steps) keep the float16 product: there, reading the weight is the cost.
     */
    static final long WIDEN_FROM_POSITIONS = 64;

    /**
     * {@code x W^T + b} for a weight stored in float16 and a float32 {@code x}: {@code x} is rounded
     * to float16, the product runs in float16 (accumulated in float32 by the engine), and the output
     * is widened back to {@code x}'s type; for {@value #WIDEN_FROM_POSITIONS} or more positions on
     * the CPU (a prefill) the weight is widened to float32 instead, for the product only. Nothing
     * else of the model runs in float16: norm statistics, gates, the cell states and the logits'
     * soft cap stay float32, as upstream's xLSTM 7B runs its cell in float32 beside 16-bit weights.
     *
     * @param x the input {@code [..., IN]}, float32
     * @param w the weight {@code [OUT, IN]}, float16
     * @param b the bias {@code [OUT]}, float16, or null
     * @return the output {@code [..., OUT]}, of {@code x}'s type
     */
    protected static NDArray linear(NDArray x, NDArray w, NDArray b) {
        Shape shape = x.getShape();
        long positions = shape.size() / Math.max(1, shape.get(shape.dimension() - 1));
        if (positions >= WIDEN_FROM_POSITIONS && x.getDevice().getDeviceType().equals(Device.Type.CPU)) {
            try (NDArray wide = w.toType(x.getDataType(), false);
                    NDArray wideBias = b == null ? null : b.toType(x.getDataType(), false)) {
                return Linear.linear(x, wide, wideBias).singletonOrThrow();
            }
        }
        NDArray x16 = x.toType(w.getDataType(), false);
        NDArray y16 = Linear.linear(x16, w, b).singletonOrThrow();
        NDArray y = y16.toType(x.getDataType(), false);
        x16.close();
        y16.close();
        return y;
    }

    /** A single-array forward: every xLSTM component maps one tensor to one tensor. */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(forward(ps, inputs.singletonOrThrow(), training));
    }

    /**
     * Stateless forward of one tensor; blocks with recurrent state override {@link
     * #forwardInternal} or expose a stateful method beside this one.
     *
     * @param ps the parameter store
     * @param x the input
     * @param training whether in training mode
     * @return the output
     */
    public abstract NDArray forward(ParameterStore ps, NDArray x, boolean training);
}
