/**
 * The benchmark harness behind {@code xlstm bench}: the suites (prefill, decode, train, scaling,
 * roofline), this machine's measured limits, the cost model of a configuration (bytes and
 * floating-point operations per token), and the reports (JSON lines, Markdown tables, PNG plots).
 * See {@code docs/benchmarks.md}.
 */
package ai.djl.xlstm.examples.bench;
