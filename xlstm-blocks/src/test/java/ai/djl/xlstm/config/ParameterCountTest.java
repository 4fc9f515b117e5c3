package ai.djl.xlstm.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link XLstmConfig#parameterCount()}, computed in closed form from the config, equals the number
 * of parameter elements of the initialized model, over a varied set of configs of both
 * architectures.
 */
class ParameterCountTest {

    @Test
    void closedFormEqualsTheInitializedModel() {
        Map<String, XLstmConfig> configs = new LinkedHashMap<>();
        // integration-tests reference/neurips-a: untied, sLSTM at 1, no bias, post-blocks norm
        configs.put("neurips-a", XLstmConfig.fromMap(neurips(50, 32, 3, List.of(1), Map.of(
                "mlstm", Map.of("num_heads", 4, "conv1d_kernel_size", 4, "qkv_proj_blocksize", 4, "proj_factor", 2.0),
                "slstm", Map.of("num_heads", 4, "conv1d_kernel_size", 4),
                "feedforward", Map.of("proj_factor", 1.3, "act_fn", "gelu")))));
        // xlstm-examples/configs/xlstm-quick.json shape, smaller: tied head
        configs.put("tied", XLstmConfig.fromMap(neurips(37, 16, 4, List.of(1), Map.of(
                "tie_weights", true,
                "mlstm", Map.of("num_heads", 4),
                "slstm", Map.of("num_heads", 4),
                "feedforward", Map.of()))));
        // only mLSTM blocks, biases, no post-blocks norm, odd rounding (inner = 42), no convolution
        configs.put("mlstm-only-bias", XLstmConfig.fromMap(neurips(13, 24, 2, List.of(), Map.of(
                "bias", true, "add_post_blocks_norm", false,
                "mlstm", Map.of("num_heads", 3, "proj_factor", 1.7, "round_proj_up_to_multiple_of", 7,
                        "qkv_proj_blocksize", 2, "conv1d_kernel_size", 0)))));
        // only sLSTM blocks, biased feed-forward with odd rounding (up = 25), tied, no convolution
        configs.put("slstm-only", XLstmConfig.fromMap(neurips(11, 20, 2, List.of(), Map.of(
                "slstm_at", "all", "bias", true, "tie_weights", true, "add_post_blocks_norm", false,
                "slstm", Map.of("num_heads", 4, "conv1d_kernel_size", 0),
                "feedforward", Map.of("proj_factor", 1.1, "round_proj_up_to_multiple_of", 5, "act_fn", "relu")))));
        // mixed xLSTM[1:2], kernel 3, rounding 3 (inner 24, up 21), blocksize 3
        configs.put("mixed-odd", XLstmConfig.fromMap(neurips(19, 16, 3, List.of(0, 2), Map.of(
                "mlstm", Map.of("num_heads", 2, "proj_factor", 1.5, "round_proj_up_to_multiple_of", 3,
                        "qkv_proj_blocksize", 3, "conv1d_kernel_size", 3),
                "slstm", Map.of("num_heads", 2, "conv1d_kernel_size", 3),
                "feedforward", Map.of("proj_factor", 1.3, "round_proj_up_to_multiple_of", 3)))));
        // integration-tests reference/large-a
        configs.put("large-a", XLstmConfig.fromMap(large(50, 64, 4, 2, Map.of())));
        // biases, no out norm, small qk/v factors, odd feed-forward rounding (up = 42)
        configs.put("large-bias", XLstmConfig.fromMap(large(17, 32, 2, 3, Map.of(
                "use_bias", true, "add_out_norm", false, "qk_dim_factor", 0.25, "v_dim_factor", 0.5,
                "ffn_proj_factor", 1.3, "ffn_round_up_to_multiple_of", 3))));
        // factors above 1, rounding 7
        configs.put("large-wide", XLstmConfig.fromMap(large(9, 16, 2, 1, Map.of(
                "qk_dim_factor", 1.0, "v_dim_factor", 2.0, "ffn_proj_factor", 1.5, "ffn_round_up_to_multiple_of", 7))));

        try (NDManager manager = NDManager.newBaseManager()) {
            for (Map.Entry<String, XLstmConfig> e : configs.entrySet()) {
                XLstmConfig config = e.getValue();
                XLstmLanguageModel model = XLstmLanguageModel.create(config);
                model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
                long actual = 0;
                for (Pair<String, Parameter> p : model.getParameters()) {
                    actual += p.getValue().getArray().size();
                }
                System.out.printf("[parameterCount] %s: %d%n", e.getKey(), actual);
                assertEquals(actual, config.parameterCount(), e.getKey() + ": " + config);
            }
        }
    }

    private static Map<String, Object> neurips(
            int vocab, int dim, int blocks, List<Integer> slstmAt, Map<String, Object> extra) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", "xlstm-neurips");
        m.put("vocab_size", vocab);
        m.put("embedding_dim", dim);
        m.put("num_blocks", blocks);
        m.put("slstm_at", slstmAt);
        m.putAll(extra);
        return m;
    }

    private static Map<String, Object> large(int vocab, int dim, int heads, int blocks, Map<String, Object> extra) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", "xlstm-large");
        m.put("vocab_size", vocab);
        m.put("embedding_dim", dim);
        m.put("num_heads", heads);
        m.put("num_blocks", blocks);
        m.put("chunk_size", 16);
        m.putAll(extra);
        return m;
    }
}
