package ai.djl.xlstm.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.Progress;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * The mean next-token loss and perplexity of a language model on a token stream of any length,
 * read in segments with the recurrent state carried from one to the next: the model sees the
 * whole text as one sequence, in memory bounded by the segment, not the text. Each segment runs
 * in its own manager; only the state (of constant size) moves on.
 */
public final class TextEvaluation {

    /**
     * The outcome.
     *
     * @param tokens how many tokens were predicted (the stream's length minus its first token)
     * @param loss the mean negative log-likelihood per predicted token, in nats
     * @param perplexity {@code exp(loss)}
     */
    public record Result(long tokens, double loss, double perplexity) {}

    /**
     * The most tokens one forward pass reads, whatever segment is asked for: the pass holds the
     * logits of its tokens and their log-softmax ({@code 2 x segment x V} floats, 268 MB at V = 8192),
     * and longer passes are not faster. A longer segment is read in parts of this many tokens; the
     * state carries across, so the result is the same.
     */
    public static final int MAX_SEGMENT = 4096;

    private TextEvaluation() {}

    /**
     * A text's token ids as a document: after the end-of-text token when the tokenizer has one (as
     * documents are separated in training), so that the first id of the text is predicted too.
     *
     * @param ids the text's ids
     * @param endOfText the tokenizer's end-of-text id, if any
     * @return {@code [endOfText, ids...]}, or {@code ids} itself when there is none
     */
    public static long[] asDocument(long[] ids, OptionalLong endOfText) {
        if (endOfText.isEmpty()) {
            return ids;
        }
        long[] tokens = new long[ids.length + 1];
        tokens[0] = endOfText.getAsLong();
        System.arraycopy(ids, 0, tokens, 1, ids.length);
        return tokens;
    }

    /**
     * Evaluates {@code tokens}: every token after the first is predicted from all before it.
     *
     * @param model the model
     * @param manager where the state lives between segments (on the model's device)
     * @param tokens the token ids
     * @param segment the most tokens per forward pass (at most {@link #MAX_SEGMENT} are used)
     * @param progress updated with the number of tokens read (null for none)
     * @return the loss and perplexity
     * @throws IllegalArgumentException for fewer than two tokens, an id outside the vocabulary or a
     *     segment below 1
     */
    public static Result evaluate(XLstmLanguageModel model, NDManager manager, long[] tokens, int segment,
            Progress progress) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(manager, "manager");
        return evaluate(model, model.getConfig().vocabSize(),
                model.zeroState(manager, manager.getDevice(), 1).toNDList(), manager, tokens, segment, progress);
    }

    /**
     * As {@link #evaluate(XLstmLanguageModel, NDManager, long[], int, Progress)}, for any recurrent
     * language model {@code block} that maps {@code [tokens [1, n], state...]} to {@code [logits [1,
     * n, V], next state...]} (an xLSTM model, or a baseline with the same convention).
     *
     * @param block the language model
     * @param vocab its vocabulary size
     * @param initialState the state before the first token (in {@code manager}, which this closes)
     * @param manager where the state lives between segments
     * @param tokens the token ids
     * @param segment the most tokens per forward pass
     * @param progress updated with the number of tokens read (null for none)
     * @return the loss and perplexity
     */
    public static Result evaluate(Block block, int vocab, NDList initialState, NDManager manager, long[] tokens,
            int segment, Progress progress) {
        Objects.requireNonNull(block, "block");
        Objects.requireNonNull(initialState, "initialState");
        Objects.requireNonNull(manager, "manager");
        Objects.requireNonNull(tokens, "tokens");
        if (segment < 1) {
            throw new IllegalArgumentException("segment must be >= 1, got " + segment);
        }
        if (tokens.length < 2) {
            throw new IllegalArgumentException("need at least 2 tokens to predict one, got " + tokens.length);
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new IllegalArgumentException("token id " + tokens[i] + " at " + i
                        + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        int predictions = tokens.length - 1;
        int step = Math.min(segment, MAX_SEGMENT);
        if (progress != null) {
            progress.reset("Evaluating", predictions);
        }
        ParameterStore ps = new ParameterStore(manager, false);
        NDManager carry = manager.newSubManager();
        initialState.attach(carry);
        NDList state = initialState;
        double nll = 0;
        long count = 0;
        try {
            for (int start = 0; start < predictions; start += step) {
                int end = Math.min(predictions, start + step);
                try (NDManager scratch = manager.newSubManager()) {
                    NDArray input = scratch.create(Arrays.copyOfRange(tokens, start, end)).reshape(1, end - start);
                    NDArray labels = scratch.create(Arrays.copyOfRange(tokens, start + 1, end + 1)).reshape(1, end - start);
                    NDList in = new NDList(input);
                    in.addAll(state);
                    NDList out = block.forward(ps, in, false); // [logits [1, n, V], the state after...]
                    NDArray[] sums = CausalLmLoss.negativeLogLikelihood(labels, out.get(0));
                    nll += sums[0].toType(DataType.FLOAT64, false).getDouble();
                    count += end - start;
                    NDManager next = manager.newSubManager();
                    state = out.subNDList(1);
                    state.attach(next);
                    carry.close();
                    carry = next;
                }
                if (progress != null) {
                    progress.update(end);
                }
            }
        } finally {
            carry.close();
            if (progress != null) {
                progress.end();
            }
        }
        double loss = nll / count;
        return new Result(count, loss, Math.exp(loss));
    }
}
