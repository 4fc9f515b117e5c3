package ai.djl.xlstm.examples.baseline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.recurrent.LSTM;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import ai.djl.xlstm.components.EmbeddingTable;

/**
 * The classical LSTM language model the xLSTM paper compares against: token embedding, DJL's
 * multi-layer {@link LSTM} (PyTorch's fused kernel, dropout between layers) and a linear head.
 *
 * <p>Block form, as an xLSTM model's: {@code [tokens [B, S]]} gives {@code [logits [B, S, V], h,
 * c]} from the zero state, {@code [tokens, h, c]} continues from {@code h, c [layers, B, H]}; the
 * training loss reads only the logits.
 */
public final class LstmLanguageModel extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int layers;
    private final int hidden;
    private final EmbeddingTable embedding;
    private final LSTM lstm;
    private final Linear head;

    /**
     * @param vocabSize V
     * @param embeddingDim E
     * @param hiddenSize H
     * @param layers stacked LSTM layers
     * @param dropout the dropout between LSTM layers
     */
    public LstmLanguageModel(int vocabSize, int embeddingDim, int hiddenSize, int layers, float dropout) {
        super(VERSION);
        this.layers = layers;
        this.hidden = hiddenSize;
        embedding = addChildBlock("embedding", new EmbeddingTable(vocabSize, embeddingDim));
        lstm = addChildBlock("lstm", LSTM.builder().setStateSize(hiddenSize).setNumLayers(layers)
                .optDropRate(dropout).optBatchFirst(true).optReturnState(true).build());
        head = addChildBlock("head", Linear.builder().setUnits(vocabSize).build());
    }

    /** The zero state {@code [h, c]} of a batch of {@code batch}. */
    public NDList zeroState(NDManager manager, long batch) {
        Shape shape = new Shape(layers, batch, hidden);
        return new NDList(manager.zeros(shape), manager.zeros(shape));
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = embedding.forward(ps, new NDList(inputs.get(0)), training).singletonOrThrow(); // [B, S, E]
        NDList in = new NDList(x);
        if (inputs.size() == 3) {
            in.add(inputs.get(1));
            in.add(inputs.get(2));
        }
        NDList out = lstm.forward(ps, in, training); // [y [B, S, H], h, c]
        NDList result = new NDList(head.forward(ps, new NDList(out.get(0)), training).singletonOrThrow());
        result.add(out.get(1));
        result.add(out.get(2));
        return result;
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape tokens = inputShapes[0];
        embedding.initialize(manager, dataType, tokens);
        Shape x = embedding.getOutputShapes(new Shape[] {tokens})[0];
        lstm.initialize(manager, dataType, x);
        head.initialize(manager, dataType, new Shape(tokens.get(0), tokens.get(1), hidden));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape tokens = inputShapes[0];
        Shape logits = head.getOutputShapes(new Shape[] {new Shape(tokens.get(0), tokens.get(1), hidden)})[0];
        Shape state = new Shape(layers, tokens.get(0), hidden);
        return new Shape[] {logits, state, state};
    }
}
