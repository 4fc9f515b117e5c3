/**
 * Training with DJL's {@code Trainer}: causal-LM loss, perplexity, AdamW with upstream's weight-decay
 * groups, token-window datasets and a training session with checkpoints that resume exactly.
 */
package ai.djl.xlstm.training;
