package ai.djl.xlstm.model;

import ai.djl.ndarray.NDArray;
import ai.djl.xlstm.state.XLstmState;

/**
 * The result of a stateful forward pass.
 *
 * @param logits the next-token logits {@code [B, S, V]}
 * @param state the recurrent state after the last input token
 */
public record LmOutput(NDArray logits, XLstmState state) {}
