package ai.djl.xlstm.zoo;

import ai.djl.modality.nlp.generate.CausalLMOutput;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.util.function.BiFunction;

/**
 * Token ids in, logits out, on the recurrent state.
 *
 * <ul>
 *   <li>{@code NDList -> NDList}: {@code [tokens [B, S]]} gives {@code [logits [B, S, V]]}; {@code
 *       [tokens, state...]} continues from a state and gives {@code [logits, new state...]}.
 *   <li>{@code NDList -> CausalLMOutput}, for DJL's {@code TextGenerator}: the input is {@code
 *       [input_ids, position_ids, attention_mask, past...]}, where "past" is our recurrent state
 *       (empty on the first call); the output's past key values are the new state. Positions are
 *       implicit in a recurrent state, and a padded batch cannot be expressed (pad tokens would
 *       enter the state): the attention mask must be all ones. Greedy search works; DJL's beam and
 *       contrastive search reorder a KV cache by position and do not apply to a recurrent state
 *       (use {@code ai.djl.xlstm.generate.Generator}'s beam search).
 * </ul>
 *
 * <p>The outputs belong to the manager of the input tokens, so they outlive the request. Stateless
 * and thread-safe.
 */
final class LogitsTranslator<O> implements NoBatchifyTranslator<NDList, O> {

    private static final String INPUT_MANAGER = "xlstm.inputManager";

    private final XLstmLanguageModel model;
    private final boolean causalLm;
    private final BiFunction<NDArray, NDList, O> output;

    private LogitsTranslator(XLstmLanguageModel model, boolean causalLm, BiFunction<NDArray, NDList, O> output) {
        this.model = model;
        this.causalLm = causalLm;
        this.output = output;
    }

    static LogitsTranslator<NDList> ndList(XLstmLanguageModel model) {
        return new LogitsTranslator<>(model, false, (logits, state) -> {
            NDList out = new NDList(logits);
            out.addAll(state);
            return out;
        });
    }

    static LogitsTranslator<CausalLMOutput> causalLm(XLstmLanguageModel model) {
        return new LogitsTranslator<>(model, true, CausalLMOutput::new);
    }

    @Override
    public NDList processInput(TranslatorContext ctx, NDList input) {
        if (input == null || input.isEmpty()) {
            throw new IllegalArgumentException("the input must hold the token ids [B, S] first, got "
                    + (input == null ? "null" : "an empty NDList"));
        }
        NDArray tokens = input.get(0);
        ctx.setAttachment(INPUT_MANAGER, tokens.getManager());
        if (!causalLm) {
            return input;
        }
        if (input.size() < 3) {
            throw new IllegalArgumentException("a CausalLMOutput request is [input_ids, position_ids, attention_mask,"
                    + " past...] (as DJL's TextGenerator sends it), got " + input.size() + " arrays");
        }
        NDList past = input.subNDList(3);
        NDList request = new NDList(tokens);
        if (past.isEmpty()) {
            // The first call: the whole prompt from the zero state. Checked once per generation,
            // not per step: a padded batch cannot be expressed by a recurrent state.
            NDArray mask = input.get(2);
            if (mask.getShape().size() > 0 && mask.min().getLong() == 0) {
                throw new IllegalArgumentException("the attention mask has zeros: padded batches cannot run on a"
                        + " recurrent state (pad tokens would enter it); generate each prompt alone, or use"
                        + " ai.djl.xlstm.generate.Generator, which batches prompts of different lengths");
            }
            request.addAll(model.zeroState(ctx.getNDManager(), tokens.getDevice(), tokens.getShape().get(0)).toNDList());
        } else {
            request.addAll(past);
        }
        return request;
    }

    @Override
    public O processOutput(TranslatorContext ctx, NDList list) {
        NDManager owner = (NDManager) ctx.getAttachment(INPUT_MANAGER);
        list.attach(owner);
        return output.apply(list.get(0), list.subNDList(1));
    }
}
