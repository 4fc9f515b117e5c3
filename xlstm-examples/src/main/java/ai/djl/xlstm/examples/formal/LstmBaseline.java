package ai.djl.xlstm.examples.formal;

import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.recurrent.LSTM;
import ai.djl.xlstm.components.EmbeddingTable;

/**
 * The classic LSTM baseline of the formal-language experiments: token embedding, DJL's built-in
 * multi-layer {@link LSTM} (PyTorch's fused kernel) and a linear head, mapping tokens {@code [B,
 * T]} to logits {@code [B, T, V]}.
 */
public final class LstmBaseline {

    private LstmBaseline() {}

    /**
     * @param vocabSize V
     * @param embeddingDim the embedding size
     * @param hiddenSize the LSTM state size
     * @param layers the number of stacked LSTM layers
     */
    public static SequentialBlock create(int vocabSize, int embeddingDim, int hiddenSize, int layers) {
        return new SequentialBlock()
                .add(new EmbeddingTable(vocabSize, embeddingDim))
                .add(LSTM.builder().setStateSize(hiddenSize).setNumLayers(layers)
                        .optBatchFirst(true).optReturnState(false).build())
                .add(Linear.builder().setUnits(vocabSize).build());
    }
}
