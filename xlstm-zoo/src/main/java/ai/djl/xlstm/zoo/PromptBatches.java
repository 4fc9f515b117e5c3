package ai.djl.xlstm.zoo;

import ai.djl.xlstm.generate.GeneratedToken;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.Generator;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The text translators' requests as decoding batches of {@link Generator}: each request's prompt
 * and settings are resolved and checked first ({@link #job}); then requests with equal settings
 * decode together as one batch ({@link #groups}, {@link #run}).
 *
 * <p>Seeds: a request that samples without a given seed gets a fresh one. A batch of such requests
 * draws one seed {@code s} and sequence {@code i} samples with {@code s + i} (the {@link Generator}'s
 * rule), so each result's {@link GenerationResult#seed()} reproduces it alone. A request whose
 * seed is given decodes alone (in a batch its sequence would sample with {@code seed + i}), so a
 * given seed always gives the same text. Greedy requests batch whatever their seed.
 */
final class PromptBatches {

    private static final Logger logger = LoggerFactory.getLogger(PromptBatches.class);

    private PromptBatches() {}

    /**
     * One request, checked and ready to decode.
     *
     * @param prompt the prompt's token ids (empty: start from {@code config.bosTokenId()})
     * @param config the request's settings
     * @param seeded whether {@code config.seed()} was given (else sampling draws a fresh seed)
     */
    record Job(long[] prompt, GenerationConfig config, boolean seeded) {

        /** Whether this job's tokens are sampled with its fresh seed, not a given one. */
        boolean freshSeed() {
            return !config.isGreedy() && !seeded;
        }
    }

    /** Receives what becomes of each job (on the generating thread). */
    interface Sink {

        /** Whether {@link #onToken} wants the tokens as they are generated. */
        default boolean streaming() {
            return false;
        }

        /** A token of job {@code job}, as generated (only when {@link #streaming()}). */
        default void onToken(int job, GeneratedToken token) {}

        /** Job {@code job} finished with {@code result}. */
        void onResult(int job, GenerationResult result);

        /** Job {@code job} failed. */
        void onError(int job, RuntimeException error);
    }

    /**
     * Resolves a request: its prompt's token ids and the model's settings overridden by {@code
     * parameters}.
     *
     * @throws IllegalArgumentException naming a bad parameter, a prompt longer than {@code
     *     max_length}, or an empty prompt without a BOS token
     */
    static Job job(HuggingFaceTextCodec codec, GenerationArguments settings, String prompt, Map<String, ?> parameters) {
        GenerationArguments args = settings.withRequest(parameters);
        long[] ids = codec.encode(prompt);
        // with max_length, the new tokens are what the prompt leaves (an empty prompt starts from BOS)
        GenerationConfig config = args.forPrompt(Math.max(1, ids.length));
        if (ids.length == 0 && config.bosTokenId() == null) {
            throw new IllegalArgumentException("the prompt is empty and there is no BOS token to start from: the"
                    + " tokenizer has no end-of-text token, so give bos_token_id (or a prompt)");
        }
        return new Job(ids, config, args.seeded());
    }

    /**
     * {@code config} with a fresh seed if {@code job} samples without a given one (logged at
     * debug level).
     */
    static GenerationConfig withSeed(Job job, int count) {
        if (!job.freshSeed()) {
            return job.config();
        }
        long seed = ThreadLocalRandom.current().nextInt(Integer.MAX_VALUE);
        logger.debug("sampling {} with the fresh seed {}", count == 1 ? "a prompt"
                : count + " prompts (prompt i of the batch: seed + i)", seed);
        return job.config().toBuilder().seed(seed).build();
    }

    /**
     * The indices of {@code jobs} that decode together, each group in order of first appearance:
     * equal settings (the seed aside, unless given under sampling).
     */
    static List<List<Integer>> groups(List<Job> jobs) {
        Map<Object, List<Integer>> groups = new LinkedHashMap<>();
        for (int i = 0; i < jobs.size(); i++) {
            Job job = jobs.get(i);
            boolean alone = !job.config().isGreedy() && job.seeded();
            Object key = alone ? new Object() : job.config().toBuilder().seed(0).build();
            groups.computeIfAbsent(key, k -> new ArrayList<>()).add(i);
        }
        return new ArrayList<>(groups.values());
    }

    /** Runs every job of {@code jobs}, group by group ({@link #groups}). */
    static void runAll(Generator generator, List<Job> jobs, Sink sink) {
        for (List<Integer> group : groups(jobs)) {
            run(generator, jobs, group, sink);
        }
    }

    /** The outcome of each job of {@link #collectAll}: its result, or the error it failed with. */
    record Outcomes(GenerationResult[] results, RuntimeException[] errors) {}

    /** Runs every job of {@code jobs} ({@link #runAll}) and collects each one's result or error. */
    static Outcomes collectAll(Generator generator, List<Job> jobs) {
        GenerationResult[] results = new GenerationResult[jobs.size()];
        RuntimeException[] errors = new RuntimeException[jobs.size()];
        runAll(generator, jobs, new Sink() {
            @Override
            public void onResult(int job, GenerationResult result) {
                results[job] = result;
            }

            @Override
            public void onError(int job, RuntimeException error) {
                errors[job] = error;
            }
        });
        return new Outcomes(results, errors);
    }

    /**
     * Decodes the jobs of {@code group} (from {@link #groups}) as one batch. When a batch of
     * several fails before any token was streamed, each job runs again alone, so that only the
     * failing ones fail.
     */
    static void run(Generator generator, List<Job> jobs, List<Integer> group, Sink sink) {
        Job first = jobs.get(group.get(0));
        GenerationConfig config = withSeed(first, group.size());
        List<long[]> prompts = new ArrayList<>();
        for (int i : group) {
            prompts.add(jobs.get(i).prompt());
        }
        boolean[] streamed = {false};
        List<GenerationResult> results;
        try {
            results = generator.generateBatchIds(prompts, config, !sink.streaming() ? null : t -> {
                streamed[0] = true;
                sink.onToken(group.get(t.sequence()), t);
            });
        } catch (RuntimeException e) {
            if (group.size() > 1 && !streamed[0]) {
                logger.debug("a batch of {} prompts failed ({}): running each alone", group.size(), e.toString());
                for (int i : group) {
                    run(generator, jobs, List.of(i), sink);
                }
            } else {
                for (int i : group) {
                    sink.onError(i, e);
                }
            }
            return;
        }
        for (int k = 0; k < group.size(); k++) {
            sink.onResult(group.get(k), results.get(k));
        }
    }
}
