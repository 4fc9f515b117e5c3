package ai.djl.xlstm.generate;

import java.util.List;
import java.util.Set;

/**
 * What to generate and how to choose each token. Immutable; build it with {@link #builder()}.
 *
 * <p>Token choice, in order (as in Hugging Face {@code generate}): the repetition penalty divides
 * positive and multiplies negative logits of every token already in the sequence (prompt and
 * generated, CTRL paper); then temperature 0 takes the argmax (greedy), otherwise the logits are
 * divided by the temperature, top-k keeps the k most likely tokens, top-p keeps the smallest set
 * whose probability reaches p, min-p drops tokens less likely than {@code minP} times the most
 * likely one, and a token is drawn from what is left with a {@link java.util.SplittableRandom}.
 * Sequence {@code i} of a batch uses the seed {@code seed + i} (so a batch of one prompt repeated
 * gives different samples), and generating that prompt alone with {@code seed + i} gives exactly
 * its tokens.
 *
 * @param maxNewTokens the most tokens to generate (>= 0)
 * @param temperature 0 for greedy choice, otherwise the softmax temperature (> 0)
 * @param topK 0 for off, otherwise how many of the most likely tokens stay candidates
 * @param topP 1 for off, otherwise the nucleus mass, in (0, 1]
 * @param minP 0 for off, otherwise the relative probability floor, in [0, 1)
 * @param repetitionPenalty 1 for off, otherwise the penalty (> 0; > 1 discourages repeats)
 * @param numBeams 1 for greedy or sampling, otherwise the beam width of beam search, at most
 *     {@link #MAX_BEAMS}; beam search needs temperature 0 and top-k, top-p and min-p off
 * @param lengthPenalty beam search ranks finished sequences by total log-probability divided by
 *     {@code length ^ lengthPenalty} (0: by total log-probability)
 * @param seed the seed of sampling (sequence {@code i} of a batch uses {@code seed + i})
 * @param eosTokenIds the tokens that end a sequence (kept in its token ids, not in its text); null
 *     for none
 * @param bosTokenId the token to start from when both the prompt and the state are empty, or null
 * @param stopStrings texts that end a sequence; the text is cut before the first of them; null for
 *     none
 * @param prefillSegment the most prompt tokens run in one forward pass, capped at {@link
 *     Generator#MAX_PREFILL_SEGMENT} (longer prompts are
 *     prefilled segment by segment, carrying the state, in bounded memory)
 */
public record GenerationConfig(
        int maxNewTokens,
        float temperature,
        int topK,
        float topP,
        float minP,
        float repetitionPenalty,
        int numBeams,
        float lengthPenalty,
        long seed,
        Set<Long> eosTokenIds,
        Long bosTokenId,
        List<String> stopStrings,
        int prefillSegment) {

    /** The widest beam search: each beam is a row of the decoding batch at every step. */
    public static final int MAX_BEAMS = 64;

    /**
     * Validates every setting, copies the sets and lists, and turns null {@code eosTokenIds} and
     * {@code stopStrings} into empty ones.
     *
     * @param maxNewTokens the most tokens to generate (>= 0)
     * @param temperature 0 for greedy choice, otherwise the softmax temperature (> 0)
     * @param topK 0 for off, otherwise how many of the most likely tokens stay candidates
     * @param topP 1 for off, otherwise the nucleus mass, in (0, 1]
     * @param minP 0 for off, otherwise the relative probability floor, in [0, 1)
     * @param repetitionPenalty 1 for off, otherwise the penalty (> 0; > 1 discourages repeats)
     * @param numBeams 1 for greedy or sampling, otherwise the beam width of beam search, at most
     *     {@link #MAX_BEAMS}; beam search needs temperature 0 and top-k, top-p and min-p off
     * @param lengthPenalty beam search ranks finished sequences by total log-probability divided by
     *     {@code length ^ lengthPenalty} (0: by total log-probability)
     * @param seed the seed of sampling (sequence {@code i} of a batch uses {@code seed + i})
     * @param eosTokenIds the tokens that end a sequence (kept in its token ids, not in its text);
     *     null for none
     * @param bosTokenId the token to start from when both the prompt and the state are empty, or
     *     null
     * @param stopStrings texts that end a sequence; the text is cut before the first of them; null
     *     for none
     * @param prefillSegment the most prompt tokens run in one forward pass, capped at {@link
     *     Generator#MAX_PREFILL_SEGMENT} (longer prompts are prefilled segment by segment, carrying
     *     the state, in bounded memory)
     * @throws IllegalArgumentException if a setting is outside its range, beam search is combined
     *     with sampling, or {@code eosTokenIds}/{@code stopStrings} hold a null, negative or empty
     *     element; the message names the setting and the value
     */
    public GenerationConfig {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
        }
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0 and finite, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0 (0 is off), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
        if (!(minP >= 0 && minP < 1)) {
            throw new IllegalArgumentException("minP must be in [0, 1), got " + minP);
        }
        if (!(repetitionPenalty > 0) || Float.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException(
                    "repetitionPenalty must be > 0 and finite (1 is off), got " + repetitionPenalty);
        }
        if (numBeams < 1 || numBeams > MAX_BEAMS) {
            throw new IllegalArgumentException("numBeams (beams) must be in [1, " + MAX_BEAMS + "], got " + numBeams
                    + (numBeams > MAX_BEAMS ? ": every beam is a row of the batch at every step" : ""));
        }
        if (!Float.isFinite(lengthPenalty)) {
            throw new IllegalArgumentException("lengthPenalty must be finite, got " + lengthPenalty);
        }
        if (numBeams > 1 && (temperature > 0 || topK > 0 || topP < 1 || minP > 0)) {
            throw new IllegalArgumentException(
                    "beam search (numBeams = " + numBeams + ") chooses deterministically: temperature must be 0"
                            + " and topK, topP, minP off, got temperature " + temperature + ", topK " + topK
                            + ", topP " + topP + ", minP " + minP);
        }
        if (eosTokenIds != null) {
            for (Long id : eosTokenIds) {
                if (id == null) {
                    throw new IllegalArgumentException("eosTokenIds holds a null id");
                }
            }
        }
        eosTokenIds = Set.copyOf(eosTokenIds == null ? Set.of() : eosTokenIds);
        for (long id : eosTokenIds) {
            if (id < 0) {
                throw new IllegalArgumentException("eosTokenIds must be >= 0, got " + id);
            }
        }
        if (bosTokenId != null && bosTokenId < 0) {
            throw new IllegalArgumentException("bosTokenId must be >= 0, got " + bosTokenId);
        }
        if (stopStrings != null) {
            Generator.requireElements(stopStrings, "stopStrings");
        }
        stopStrings = List.copyOf(stopStrings == null ? List.of() : stopStrings);
        for (int i = 0; i < stopStrings.size(); i++) {
            if (stopStrings.get(i).isEmpty()) {
                throw new IllegalArgumentException("stopStrings[" + i + "] is empty: a stop string must not be empty");
            }
        }
        if (prefillSegment < 1) {
            throw new IllegalArgumentException("prefillSegment must be >= 1, got " + prefillSegment);
        }
    }

    /**
     * Whether tokens are chosen by argmax (temperature 0 or top-k 1).
     *
     * @return whether decoding is greedy
     */
    public boolean isGreedy() {
        return temperature == 0 || topK == 1;
    }

    /**
     * A builder starting from the defaults: greedy, 128 new tokens, no EOS, no stop strings.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder starting from this config.
     *
     * @return a new builder with this config's settings
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxNewTokens = maxNewTokens;
        b.temperature = temperature;
        b.topK = topK;
        b.topP = topP;
        b.minP = minP;
        b.repetitionPenalty = repetitionPenalty;
        b.numBeams = numBeams;
        b.lengthPenalty = lengthPenalty;
        b.seed = seed;
        b.eosTokenIds = eosTokenIds;
        b.bosTokenId = bosTokenId;
        b.stopStrings = stopStrings;
        b.prefillSegment = prefillSegment;
        return b;
    }

    /** Builds a {@link GenerationConfig}; {@link #build()} validates. */
    public static final class Builder {
        private int maxNewTokens = 128;
        private float temperature;
        private int topK;
        private float topP = 1f;
        private float minP;
        private float repetitionPenalty = 1f;
        private int numBeams = 1;
        private float lengthPenalty = 1f;
        private long seed;
        private Set<Long> eosTokenIds = Set.of();
        private Long bosTokenId;
        private List<String> stopStrings = List.of();
        private int prefillSegment = 512;

        Builder() {}

        /**
         * The most tokens to generate (default 128).
         *
         * @param value the token limit (>= 0)
         * @return this builder
         */
        public Builder maxNewTokens(int value) {
            maxNewTokens = value;
            return this;
        }

        /**
         * 0 for greedy (the default), otherwise the sampling temperature.
         *
         * @param value the temperature (0 or > 0)
         * @return this builder
         */
        public Builder temperature(float value) {
            temperature = value;
            return this;
        }

        /**
         * Top-k filtering (0, the default, is off).
         *
         * @param value how many of the most likely tokens stay candidates (0: all)
         * @return this builder
         */
        public Builder topK(int value) {
            topK = value;
            return this;
        }

        /**
         * Nucleus filtering (1, the default, is off).
         *
         * @param value the nucleus mass, in (0, 1]
         * @return this builder
         */
        public Builder topP(float value) {
            topP = value;
            return this;
        }

        /**
         * Min-p filtering (0, the default, is off).
         *
         * @param value the relative probability floor, in [0, 1)
         * @return this builder
         */
        public Builder minP(float value) {
            minP = value;
            return this;
        }

        /**
         * The repetition penalty (1, the default, is off).
         *
         * @param value the penalty (> 0)
         * @return this builder
         */
        public Builder repetitionPenalty(float value) {
            repetitionPenalty = value;
            return this;
        }

        /**
         * The beam width (1, the default, is no beam search).
         *
         * @param value the beam width (>= 1)
         * @return this builder
         */
        public Builder numBeams(int value) {
            numBeams = value;
            return this;
        }

        /**
         * Beam search's length penalty exponent (default 1).
         *
         * @param value the exponent of the length in beam ranking
         * @return this builder
         */
        public Builder lengthPenalty(float value) {
            lengthPenalty = value;
            return this;
        }

        /**
         * The sampling seed (default 0).
         *
         * @param value the seed of sampling
         * @return this builder
         */
        public Builder seed(long value) {
            seed = value;
            return this;
        }

        /**
         * The end-of-sequence tokens (default none; null for none).
         *
         * @param value the end-of-sequence token ids, or null for none
         * @return this builder
         */
        public Builder eosTokenIds(Set<Long> value) {
            eosTokenIds = value;
            return this;
        }

        /**
         * The start token for an empty prompt on an empty state (default none).
         *
         * @param value the start token id, or null
         * @return this builder
         */
        public Builder bosTokenId(Long value) {
            bosTokenId = value;
            return this;
        }

        /**
         * The stop strings (default none; null for none).
         *
         * @param value the stop strings, or null for none
         * @return this builder
         */
        public Builder stopStrings(List<String> value) {
            stopStrings = value;
            return this;
        }

        /**
         * The most prompt tokens per forward pass (default 512).
         *
         * @param value the most prompt tokens per forward pass (>= 1)
         * @return this builder
         */
        public Builder prefillSegment(int value) {
            prefillSegment = value;
            return this;
        }

        /**
         * Validates and builds.
         *
         * @return the validated config
         */
        public GenerationConfig build() {
            return new GenerationConfig(maxNewTokens, temperature, topK, topP, minP, repetitionPenalty, numBeams,
                    lengthPenalty, seed, eosTokenIds, bosTokenId, stopStrings, prefillSegment);
        }
    }
}
