package ai.djl.xlstm.components;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Embedding;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.internal.Inits;

/**
 * A token embedding table {@code weight [V, D]} (upstream {@code nn.Embedding}). Token ids are
 * validated by the language model before they get here. Shapes: {@code [B, S] -> [B, S, D]}.
 */
public class EmbeddingTable extends AbstractXLstmBlock {

    private static final byte VERSION = 1;

    private final Parameter weight;

    /**
     * @param vocabSize V
     * @param dim D
     */
    public EmbeddingTable(long vocabSize, long dim) {
        super(VERSION);
        weight =
                addParameter(
                        "weight",
                        Parameter.Type.WEIGHT,
                        new Shape(vocabSize, dim),
                        Inits.small(dim));
    }

    /**
     * The embedding matrix {@code [V, D]}, also used by a tied LM head: as stored when {@code like}
     * is not floating-point (token ids), else in {@code like}'s type.
     *
     * @param ps the parameter store
     * @param like an array on the wanted device
     * @param training whether in training mode
     * @return the embedding matrix
     */
    public NDArray weight(ParameterStore ps, NDArray like, boolean training) {
        return value(ps, weight, like, training);
    }

    @Override
    public NDArray forward(ParameterStore ps, NDArray tokens, boolean training) {
        NDArray x = Embedding.embedding(tokens, weight(ps, tokens, training), SparseFormat.DENSE)
                .singletonOrThrow(); // [B, S, D]
        if (x.getDataType() == DataType.FLOAT16) { // float16 weights: the activations are float32
            NDArray wide = x.toType(DataType.FLOAT32, false);
            x.close();
            return wide;
        }
        return x;
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(weight.getShape().get(1))};
    }
}
