package ai.djl.xlstm.examples.formal;

/**
 * Which positions of a formal-language example carry a training label.
 *
 * <p>For the state-tracking tasks (parity, even pairs, cycle navigation, modular arithmetic) the
 * answer to every prefix is well defined, so {@link #DENSE} labels each position with the running
 * answer of the prefix ending there (modular arithmetic: only prefixes that end in a number), while
 * {@link #LAST} keeps the paper's setting of one label at the final position. For MQAR both modes
 * label every query position.
 */
public enum Supervision {
    /** Every position whose prefix has a defined answer is labelled with that answer. */
    DENSE,
    /** Only the final position is labelled (state-tracking tasks; MQAR is unaffected). */
    LAST
}
