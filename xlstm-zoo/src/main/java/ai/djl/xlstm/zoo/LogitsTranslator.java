package ai.djl.xlstm.zoo;

import ai.djl.modality.nlp.generate.CausalLMOutput;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.util.Objects;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * Token ids in, logits out, on the recurrent state.
 *
 * <ul>
 *   <li>{@code NDList -> NDList}: {@code [tokens [B, S]]} gives {@code [logits [B, S, V], state...]}
 *       (the state after the last token, from the zero state); {@code [tokens, state...]} continues
 *       from a state and gives {@code [logits, new state...]}.
 *   <li>{@code NDList -> CausalLMOutput}, for DJL's {@code TextGenerator}: the input is {@code
 *       [input_ids, position_ids, attention_mask, past...]}, where "past" is our recurrent state
 *       (empty on the first call); the output's past key values are the new state. Positions are
 *       implicit in a recurrent state, and a padded batch cannot be expressed (pad tokens would
 *       enter the state): the attention mask must be all ones. Greedy search works; DJL's beam and
 *       contrastive search reorder a KV cache by position and do not apply to a recurrent state:
 *       they fail on their first step, naming {@code num_beams} (our beam search).
 * </ul>
 *
 * <p>{@link XLstmTranslatorFactory} makes one for {@code Criteria} with these types; to pass one
 * yourself ({@code optTranslator}), {@code LogitsTranslator.builder().build()} (or {@code
 * build(CausalLMOutput.class)}). The model is the predictor's: its block must be an xLSTM language
 * model (a folder loaded with {@link XLstmBlockFactory}).
 *
 * <p><b>Memory.</b> The model reads the inputs through views that belong to the request's manager
 * (no copy; the caller's arrays are left as they are), so every intermediate array is freed with
 * the request. Only the returned arrays are attached to the manager of the input tokens: a loop
 * that closes what it no longer needs runs in constant memory. Stateless and thread-safe; an input
 * array may be shared by requests on several threads.
 *
 * @param <O> the output: {@code NDList} or {@code CausalLMOutput}
 */
public final class LogitsTranslator<O> implements NoBatchifyTranslator<NDList, O> {

    private static final String INPUT_MANAGER = "xlstm.inputManager";

    /** DJL's TextGenerator searches that need a transformer's KV cache. */
    private static final Set<String> KV_CACHE_SEARCHES = Set.of("beamSearch", "contrastiveSearch");
    private static final String TEXT_GENERATOR = "ai.djl.modality.nlp.generate.TextGenerator";

    private final boolean causalLm;
    private final BiFunction<NDArray, NDList, O> output;

    private LogitsTranslator(boolean causalLm, BiFunction<NDArray, NDList, O> output) {
        this.causalLm = causalLm;
        this.output = output;
    }

    /**
     * A builder of a translator of token ids to logits.
     *
     * @return a builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link LogitsTranslator}: the output type is its one setting. */
    public static final class Builder {

        private Builder() {}

        /**
         * Builds the translator of {@code [tokens, state...]} to {@code [logits, state...]}.
         *
         * @return an {@code NDList -> NDList} translator
         */
        public LogitsTranslator<NDList> build() {
            return build(NDList.class);
        }

        /**
         * Builds the translator to {@code output}.
         *
         * @param output {@code NDList} ({@code [logits, state...]}) or {@code CausalLMOutput} (for
         *     DJL's {@code TextGenerator})
         * @param <O> the output type
         * @return the translator
         * @throws IllegalArgumentException naming an unsupported output
         */
        @SuppressWarnings("unchecked")
        public <O> LogitsTranslator<O> build(Class<O> output) {
            Objects.requireNonNull(output, "output");
            if (output == NDList.class) {
                return (LogitsTranslator<O>) new LogitsTranslator<NDList>(false, (logits, state) -> {
                    NDList out = new NDList(logits);
                    out.addAll(state);
                    return out;
                });
            }
            if (output == CausalLMOutput.class) {
                return (LogitsTranslator<O>) new LogitsTranslator<>(true, CausalLMOutput::new);
            }
            throw new IllegalArgumentException("output: token ids translate to an NDList or a CausalLMOutput, not "
                    + output.getName());
        }
    }

    /**
     * The model's input: the tokens and the state (the zero state when none is given), as views
     * that belong to the request.
     *
     * @param ctx the request's context; its model must be an xLSTM language model
     * @param input {@code [tokens [B, S], state...]}, or for {@code CausalLMOutput} {@code
     *     [input_ids, position_ids, attention_mask, past...]}
     * @return {@code [tokens, state...]}
     * @throws IllegalArgumentException naming what is wrong with the input, or if the model is not
     *     an xLSTM language model
     */
    @Override
    public NDList processInput(TranslatorContext ctx, NDList input) {
        XLstmLanguageModel model = XLstmBlockFactory.languageModel(ctx.getModel());
        if (input == null || input.isEmpty()) {
            throw new IllegalArgumentException("the input must hold the token ids [B, S] first, got "
                    + (input == null ? "null" : "an empty NDList"));
        }
        NDArray tokens = input.get(0); // [B, S]
        ctx.setAttachment(INPUT_MANAGER, tokens.getManager());
        NDManager request = ctx.getNDManager();
        NDList past;
        if (causalLm) {
            if (input.size() < 3) {
                throw new IllegalArgumentException("a CausalLMOutput request is [input_ids, position_ids,"
                        + " attention_mask, past...] (as DJL's TextGenerator sends it), got " + input.size() + " arrays");
            }
            past = input.subNDList(3);
            if (past.isEmpty()) {
                // The first call: checked once per generation, not per step.
                refuseKvCacheSearch();
                NDArray mask = joinRequest(input.get(2), request); // [B, S]
                if (mask.getShape().size() > 0 && mask.min().getLong() == 0) {
                    throw new IllegalArgumentException("the attention mask has zeros: padded batches cannot run on a"
                            + " recurrent state (pad tokens would enter it); generate each prompt alone, or use"
                            + " ai.djl.xlstm.generate.Generator, which batches prompts of different lengths");
                }
            }
        } else {
            past = input.subNDList(1);
        }
        NDList modelInput = new NDList(joinRequest(tokens, request));
        if (past.isEmpty()) {
            modelInput.addAll(model.zeroState(request, tokens.getDevice(), tokens.getShape().get(0)).toNDList());
        } else {
            for (NDArray a : past) {
                modelInput.add(joinRequest(a, request));
            }
        }
        return modelInput;
    }

    /**
     * The logits and the new state, attached to the manager of the input tokens.
     *
     * @param ctx the request's context
     * @param list the model's {@code [logits [B, S, V], state...]}
     * @return the output
     */
    @Override
    public O processOutput(TranslatorContext ctx, NDList list) {
        NDManager owner = (NDManager) ctx.getAttachment(INPUT_MANAGER);
        list.attach(owner);
        return output.apply(list.get(0), list.subNDList(1));
    }

    /**
     * A new array on the same data as a caller's (no copy: {@code stopGradient}, a view) that
     * belongs to the request, so that the results of operations on it do too. The caller's array
     * itself is left alone: other threads may be using it at the same time ({@code tempAttach}
     * would move it between managers under them).
     */
    private static NDArray joinRequest(NDArray array, NDManager request) {
        NDArray view = array.stopGradient();
        view.attach(request);
        return view;
    }

    /**
     * DJL's {@code TextGenerator} beam and contrastive search reshape and reorder the past key
     * values as a transformer's {@code [B, heads, S, D]} cache, which fails on a recurrent state
     * with a raw shape error after our first step; say so before that step. The first call of each
     * search is the same request as greedy search's, so the caller is the only distinction.
     */
    private static void refuseKvCacheSearch() {
        String search = StackWalker.getInstance().walk(frames -> frames
                .filter(f -> f.getClassName().equals(TEXT_GENERATOR) && KV_CACHE_SEARCHES.contains(f.getMethodName()))
                .map(StackWalker.StackFrame::getMethodName)
                .findFirst()
                .orElse(null));
        if (search != null) {
            throw new UnsupportedOperationException("DJL's TextGenerator " + search + " reorders a transformer's"
                    + " key-value cache and cannot run on an xLSTM's recurrent state; TextGenerator's greedy search"
                    + " works. For beam search load the model as Criteria<String, String> (or GenerationResult)"
                    + " with optArgument(\"num_beams\", N), or call ai.djl.xlstm.generate.Generator with"
                    + " GenerationConfig.numBeams(N)");
        }
    }
}
