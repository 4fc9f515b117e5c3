/**
 * A CPU decode step for batch 1 written on plain {@code float[]} arrays: the weights are copied
 * out of an initialized model once, and each step runs the whole model in Java, with the JDK's
 * Vector API ({@code jdk.incubator.vector}) for the matrix-vector products where the module is in
 * the boot layer ({@code --add-modules jdk.incubator.vector}) and plain loops otherwise.
 *
 * <p>Why: a libtorch decode step of a small xLSTM makes hundreds of native tensor operations at
 * about 11 µs each (JNI and dispatch), ten times the time it takes to read the weights once from
 * memory, the floor of a batch-1 step. Here a step is a few dozen loops over arrays.
 *
 * <p>Public only for lack of module-wide visibility; not API (see {@code ai.djl.xlstm.internal}).
 * The entry point is {@link ai.djl.xlstm.internal.decode.CpuDecoder#of}.
 */
package ai.djl.xlstm.internal.decode;
