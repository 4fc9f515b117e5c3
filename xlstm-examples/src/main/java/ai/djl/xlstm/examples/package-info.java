/**
 * The {@code xlstm} command line and the quick start: applications built on the model library and
 * the zoo.
 */
package ai.djl.xlstm.examples;
