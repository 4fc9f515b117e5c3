/**
 * Text generation on the recurrent state, on token ids or through a {@link
 * ai.djl.xlstm.generate.TextCodec}: greedy, seeded sampling, beam search, stop conditions,
 * streaming, batches and saved sessions ({@link ai.djl.xlstm.generate.Generator}).
 */
package ai.djl.xlstm.generate;
