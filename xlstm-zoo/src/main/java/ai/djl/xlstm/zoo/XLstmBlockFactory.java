package ai.djl.xlstm.zoo;

import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.xlstm.internal.ConfigMaps;
import ai.djl.xlstm.internal.WeightTypes;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * DJL's {@link BlockFactory} for xLSTM checkpoint folders: the config ({@code config.json}, {@code
 * config.yaml}, or a Hugging Face {@code xLSTMConfig}) and the weights ({@code model.safetensors},
 * shards or an index), with upstream, {@code xlstm_large} or Hugging Face names. The weights load
 * into the model's manager, on the model's device, and are checked against the config before the
 * first forward pass (one error lists every mismatch).
 *
 * <p>Folders our tools write carry a {@code serving.properties} naming this factory; for any other
 * folder pass it yourself:
 *
 * <pre>{@code
 * Criteria.builder().setTypes(NDList.class, NDList.class)
 *         .optModelPath(dir)
 *         .optArgument("blockFactory", "ai.djl.xlstm.zoo.XLstmBlockFactory")
 *         .optOption("hasParameter", "false") // the weights are not a DJL .params file
 *         .build();
 * }</pre>
 *
 * <p>Upstream configs may name kernels this implementation does not have (Triton kernels, bfloat16
 * autocast): they are mapped to our native forms in float32, and each mapping is logged once.
 */
public class XLstmBlockFactory implements BlockFactory {

    private static final long serialVersionUID = 1L;
    private static final Logger logger = LoggerFactory.getLogger(XLstmBlockFactory.class);
    private static final Set<String> LOGGED = ConcurrentHashMap.newKeySet();

    /** Config fields that choose upstream kernels or dtypes, and what we run instead. */
    private static final Map<String, String> KERNEL_FIELDS = Map.of(
            "chunkwise_kernel", "our chunkwise mLSTM form (PyTorch ops)",
            "sequence_kernel", "our recurrent mLSTM step, position by position",
            "step_kernel", "our recurrent mLSTM step (PyTorch ops)",
            "autocast_kernel_dtype", "float32 throughout",
            "inference_state_dtype", "a float32 state",
            "mode", "the full-sequence form for sequences and the step for single tokens",
            "backend", "our sLSTM cell (PyTorch ops)");

    /**
     * The Criteria argument that chooses the type the weights are stored in: {@code float32} (the
     * default) or {@code float16}, which halves the model's memory and loads any checkpoint (F32,
     * F16 or BF16 files) tensor by tensor, without a float32 copy ({@code
     * .optArgument("weights", "float16")}). {@code bfloat16} is refused: DJL's PyTorch engine aborts
     * on it; a BF16 checkpoint loads exactly into float16 weights.
     */
    public static final String WEIGHTS_ARGUMENT = "weights";

    /** {@inheritDoc} */
    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) throws IOException {
        // a training run's folder stands for its newest checkpoint
        Path dir = UpstreamCheckpoint.resolveFolder(Files.isRegularFile(modelPath) ? modelPath.getParent() : modelPath);
        logKernelMappings(dir);
        return UpstreamCheckpoint.load(dir, model.getNDManager(), null, weightType(arguments));
    }

    /**
     * The argument {@value #WEIGHTS_ARGUMENT}: {@code float32} (the default) or {@code float16}
     * (see {@link XLstmLanguageModel#castWeights}).
     */
    static DataType weightType(Map<String, ?> arguments) {
        Object value = arguments == null ? null : arguments.get(WEIGHTS_ARGUMENT);
        if (value == null) {
            return DataType.FLOAT32;
        }
        String text = String.valueOf(value).trim().toLowerCase(Locale.ROOT);
        return switch (text) {
            case "float32", "f32", "fp32" -> DataType.FLOAT32;
            case "float16", "f16", "fp16", "half" -> DataType.FLOAT16;
            case "bfloat16", "bf16" -> WeightTypes.require(DataType.BFLOAT16, "argument '" + WEIGHTS_ARGUMENT + "':");
            default -> throw new IllegalArgumentException("argument '" + WEIGHTS_ARGUMENT + "' must be float32 or"
                    + " float16, got '" + value + "'");
        };
    }

    /** The xLSTM language model a {@link Model} loaded through this factory holds. */
    static XLstmLanguageModel languageModel(Model model) {
        if (model.getBlock() instanceof XLstmLanguageModel lm) {
            return lm;
        }
        throw new IllegalArgumentException("the model " + model.getName() + " is not an xLSTM language model: its block is "
                + (model.getBlock() == null ? "missing" : model.getBlock().getClass().getName())
                + " (load it with the block factory " + XLstmBlockFactory.class.getName() + ")");
    }

    private static void logKernelMappings(Path dir) throws IOException {
        Map<String, Object> raw = ConfigMaps.readMap(ConfigMaps.configFile(dir));
        logKernelMappings(raw, "");
    }

    @SuppressWarnings("unchecked")
    private static void logKernelMappings(Map<String, Object> raw, String prefix) {
        for (Map.Entry<String, Object> e : raw.entrySet()) {
            if (e.getValue() instanceof Map<?, ?> section) {
                logKernelMappings((Map<String, Object>) section, prefix + e.getKey() + ".");
                continue;
            }
            String instead = KERNEL_FIELDS.get(e.getKey());
            String key = prefix + e.getKey() + "=" + e.getValue();
            if (instead != null && e.getValue() != null && LOGGED.add(key)) {
                logger.info("config {} names an upstream kernel or dtype; running {} instead", key, instead);
            }
        }
    }
}
