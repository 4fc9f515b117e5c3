/**
 * Checkpoint input and output: SafeTensors files ({@link ai.djl.xlstm.io.SafeTensors}, a facade
 * over package-private classes with one job each: header parsing and validation, reading tensors,
 * writing them with their checksum, half-float conversion, and finding a checkpoint folder's
 * shards), upstream and Hugging Face checkpoint folders ({@link ai.djl.xlstm.io.UpstreamCheckpoint})
 * with their storage options, and the derivation of every parameter's upstream name from the block
 * tree.
 */
package ai.djl.xlstm.io;
