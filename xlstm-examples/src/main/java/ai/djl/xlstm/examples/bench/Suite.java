package ai.djl.xlstm.examples.bench;

import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** A benchmark suite of {@code xlstm bench --suite}. */
public enum Suite {
    /** This machine's matrix-vector bandwidth and matmul GFLOP/s at the model's shapes. */
    ROOFLINE,
    /** Prompt processing through the generator, batch 1. */
    PREFILL,
    /** Greedy decoding through the generator at several batch sizes and positions. */
    DECODE,
    /** One optimizer update of the training session. */
    TRAIN,
    /** Time and memory over long sequences: xLSTM, its cell forms, a Transformer and an LSTM. */
    SCALING;

    /**
     * The name on the command line and in the JSON lines.
     *
     * @return the lower-case name
     */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The suites of {@code --suite} values ({@code all} means every suite).
     *
     * @param names the values, e.g. {@code [decode, prefill]}
     * @return the suites, in run order
     * @throws IllegalArgumentException for an unknown name
     */
    public static Set<Suite> parse(List<String> names) {
        Set<Suite> suites = EnumSet.noneOf(Suite.class);
        for (String raw : names) {
            String name = raw.strip().toLowerCase(Locale.ROOT);
            if (name.equals("all")) {
                suites.addAll(EnumSet.allOf(Suite.class));
                continue;
            }
            Suite match = null;
            for (Suite s : values()) {
                if (s.label().equals(name)) {
                    match = s;
                }
            }
            if (match == null) {
                throw new IllegalArgumentException("--suite: unknown suite '" + raw
                        + "' (expected prefill, decode, train, scaling, roofline or all)");
            }
            suites.add(match);
        }
        if (suites.isEmpty()) {
            throw new IllegalArgumentException("--suite: name at least one suite");
        }
        return suites;
    }

    /** Whether the suite reports a fraction of the roofline, so the roofline is measured first. */
    boolean needsRoofline() {
        return this == PREFILL || this == DECODE || this == TRAIN || this == ROOFLINE;
    }
}
