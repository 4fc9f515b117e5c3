/**
 * Checkpoint input and output: SafeTensors files, upstream and Hugging Face checkpoint folders
 * ({@link ai.djl.xlstm.io.UpstreamCheckpoint}) with their storage options, and the derivation of
 * every parameter's upstream name from the block tree.
 */
package ai.djl.xlstm.io;
