package ai.djl.xlstm.examples.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.djl.xlstm.components.MLstmForm;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.config.XLstmLargeConfig;
import ai.djl.xlstm.config.XLstmLmConfig;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The cost model of an xLSTM language model: the bytes of weights a run reads and the
 * floating-point operations (FLOPs, a multiply-add counting 2) it performs, which the roofline
 * divides by the machine's measured bandwidth and GFLOP/s. The formulas (see {@code
 * docs/benchmarks.md}):
 *
 * <ul>
 *   <li>parameters: {@code P = P_body + P_head + P_emb}, where {@code P_head = V x D} is the LM
 *       head's matrix (the embedding itself when tied), {@code P_emb = V x D} the embedding table
 *       when untied (0 when tied: it is the head) and {@code P_body} everything else (blocks,
 *       norms). The embedding lookup reads {@code D} values per token and does no arithmetic.
 *   <li>mLSTM cell terms per token and layer, with {@code NH} heads of dimensions {@code DQK,
 *       DV}: recurrent step {@code 4 NH DQK DV} (state update and readout); chunkwise with chunk
 *       {@code L}: {@code NH (2 L (DQK + DV) + 4 DQK DV)}; parallel over {@code S}: {@code NH 2 S
 *       (DQK + DV)} (the full {@code S x S} products, as the kernels compute them). Element-wise
 *       work (gates, norms, exponentials) is not counted.
 *   <li>decode step, batch B: reads {@code bytes x (P_body + P_head) + bytes x B x D} (the
 *       embedding rows when untied); {@code B (2 (P_body + P_head) + recurrent terms)} FLOPs.
 *   <li>prefill of S tokens in segments: {@code S (2 P_body + chunkwise terms) + segments x 2
 *       P_head} FLOPs (the head runs on the last position of each segment only); the weights are
 *       read once per segment.
 *   <li>training step, B x S tokens: {@code 3 x} the forward FLOPs with logits at every position
 *       ({@code 6 x (P_body + P_head)} per token plus 3 x the cell terms of the form training
 *       uses): the backward pass costs twice the forward; reads {@code 3 x} the weights.
 * </ul>
 */
public final class ModelCost {

    private final long bodyParams;
    private final long headParams;
    private final long embeddingParams;
    private final int embeddingDim;
    private final int bytesPerElement;
    private final List<int[]> mlstmLayers; // {NH, DQK, DV}
    private final MLstmForm backend;
    private final long stateBytesPerSequence;
    private final List<long[]> linearShapes; // {out, in}

    private ModelCost(long bodyParams, long headParams, long embeddingParams, int embeddingDim, int bytesPerElement,
            List<int[]> mlstmLayers, MLstmForm backend, long stateBytesPerSequence, List<long[]> linearShapes) {
        this.bodyParams = bodyParams;
        this.headParams = headParams;
        this.embeddingParams = embeddingParams;
        this.embeddingDim = embeddingDim;
        this.bytesPerElement = bytesPerElement;
        this.mlstmLayers = mlstmLayers;
        this.backend = backend;
        this.stateBytesPerSequence = stateBytesPerSequence;
        this.linearShapes = linearShapes;
    }

    /**
     * The cost model of an initialized {@code model} whose weights are {@code dtype}.
     *
     * @param model the model (initialized)
     * @param manager a manager on the model's device (a zero state is made and freed in it)
     * @param dtype the weight type
     * @return the cost model
     */
    public static ModelCost of(XLstmLanguageModel model, NDManager manager, BenchDtype dtype) {
        XLstmConfig config = model.getConfig();
        long total = 0;
        Set<String> shapes = new LinkedHashSet<>();
        List<long[]> linear = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            NDArray a = p.getValue().getArray();
            total += a.size();
            Shape s = a.getShape();
            if (s.dimension() == 2 && Math.min(s.get(0), s.get(1)) >= 8 && shapes.add(s.get(0) + "x" + s.get(1))) {
                linear.add(new long[] {s.get(0), s.get(1)});
            }
        }
        long vd = (long) config.vocabSize() * config.embeddingDim();
        boolean tied = config instanceof XLstmLmConfig c && c.tieWeights();
        long embedding = tied ? 0 : vd;
        long body = total - vd - embedding;
        List<int[]> layers = new ArrayList<>();
        if (config instanceof XLstmLmConfig c) {
            int mlstm = c.numBlocks() - c.slstmAt().size();
            for (int i = 0; i < mlstm; i++) {
                layers.add(new int[] {c.mlstm().numHeads(), c.mlstm().headDim(), c.mlstm().headDim()});
            }
        } else {
            XLstmLargeConfig c = (XLstmLargeConfig) config;
            for (int i = 0; i < c.numBlocks(); i++) {
                layers.add(new int[] {c.numHeads(), c.qkDim() / c.numHeads(), c.vDim() / c.numHeads()});
            }
        }
        long stateElements = 0;
        try (NDManager scratch = manager.newSubManager()) {
            for (NDArray a : model.zeroState(scratch, scratch.getDevice(), 1).toNDList()) {
                stateElements += a.size();
            }
        }
        return new ModelCost(body, vd, embedding, config.embeddingDim(), dtype.bytes(), List.copyOf(layers),
                model.getForm(), stateElements * 4, List.copyOf(linear));
    }

    /**
     * All parameter elements.
     *
     * @return the parameter count
     */
    public long parameters() {
        return bodyParams + headParams + embeddingParams;
    }

    /**
     * The bytes of all weights.
     *
     * @return the bytes
     */
    public long weightBytes() {
        return parameters() * bytesPerElement;
    }

    /**
     * The bytes of one sequence's recurrent state (float32), read and written every decode step.
     *
     * @return the bytes
     */
    public long stateBytesPerSequence() {
        return stateBytesPerSequence;
    }

    /**
     * The heads and head dimensions {@code {NH, DQK, DV}} of the first mLSTM layer.
     *
     * @return the dimensions, or null when the model has no mLSTM layer
     */
    public int[] firstMlstmLayer() {
        return mlstmLayers.isEmpty() ? null : mlstmLayers.get(0).clone();
    }

    /**
     * The distinct 2-D weight shapes {@code {out, in}} of the model (each at least 8 x 8).
     *
     * @return the shapes
     */
    public List<long[]> linearShapes() {
        return linearShapes;
    }

    /**
     * The bytes of weights one decode step of {@code batch} sequences reads.
     *
     * @param batch B
     * @return the bytes
     */
    public long decodeWeightBytes(int batch) {
        long rows = embeddingParams > 0 ? (long) batch * embeddingDim : 0;
        return (bodyParams + headParams + rows) * bytesPerElement;
    }

    /**
     * The FLOPs of one decode step of {@code batch} sequences.
     *
     * @param batch B
     * @return the FLOPs
     */
    public double decodeFlops(int batch) {
        double perToken = 2.0 * (bodyParams + headParams);
        for (int[] l : mlstmLayers) {
            perToken += recurrentTerm(l);
        }
        return batch * perToken;
    }

    /**
     * The bytes of weights a prefill of {@code length} tokens in segments of {@code segment} reads.
     *
     * @param length S
     * @param segment the most tokens per forward pass
     * @return the bytes
     */
    public long prefillWeightBytes(int length, int segment) {
        long segments = (length + segment - 1L) / segment;
        long rows = embeddingParams > 0 ? (long) length * embeddingDim : 0;
        return (segments * (bodyParams + headParams) + rows) * bytesPerElement;
    }

    /**
     * The FLOPs of a prefill of {@code length} tokens in segments of {@code segment} (chunkwise
     * cells, since a state is carried; the head on each segment's last position).
     *
     * @param length S
     * @param segment the most tokens per forward pass
     * @return the FLOPs
     */
    public double prefillFlops(int length, int segment) {
        long segments = (length + segment - 1L) / segment;
        int chunk = Math.min(backend.chunkSize(), Math.min(length, segment));
        double perToken = 2.0 * bodyParams;
        for (int[] l : mlstmLayers) {
            perToken += chunkwiseTerm(l, chunk);
        }
        return length * perToken + segments * 2.0 * headParams;
    }

    /**
     * The FLOPs of one training step on {@code batch} sequences of {@code length} tokens: three
     * times the forward pass with logits at every position.
     *
     * @param batch B
     * @param length S
     * @return the FLOPs
     */
    public double trainFlops(int batch, int length) {
        boolean parallel = backend.useParallel(length, false, false);
        double perToken = 2.0 * (bodyParams + headParams);
        for (int[] l : mlstmLayers) {
            perToken += parallel ? parallelTerm(l, length) : chunkwiseTerm(l, Math.min(backend.chunkSize(), length));
        }
        return 3.0 * batch * length * perToken;
    }

    /**
     * The bytes of weights one training step reads: three passes over the weights (forward,
     * backward, update).
     *
     * @return the bytes
     */
    public long trainWeightBytes() {
        return 3 * weightBytes();
    }

    private static double recurrentTerm(int[] l) {
        return 4.0 * l[0] * l[1] * l[2];
    }

    private static double chunkwiseTerm(int[] l, int chunk) {
        return l[0] * (2.0 * chunk * (l[1] + l[2]) + 4.0 * l[1] * l[2]);
    }

    private static double parallelTerm(int[] l, int length) {
        return l[0] * 2.0 * length * (l[1] + l[2]);
    }
}
