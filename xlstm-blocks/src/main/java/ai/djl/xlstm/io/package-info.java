/**
 * Checkpoint input and output: SafeTensors files, upstream and Hugging Face checkpoint folders
 * ({@link ai.djl.xlstm.io.UpstreamCheckpoint}) with their storage options, and the derivation of
 * every parameter's upstream name from the block tree; writes that a crash or a power loss cannot
 * leave half done ({@link ai.djl.xlstm.io.AtomicFiles}) and one writer per folder ({@link
 * ai.djl.xlstm.io.FolderLock}).
 */
package ai.djl.xlstm.io;
