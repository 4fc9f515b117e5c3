package ai.djl.xlstm.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.LongStream;

class GeneratorTest {

    private static final int VOCAB = 260;
    private static NDManager manager;
    private static XLstmLanguageModel neurips;
    private static XLstmLanguageModel large;

    @BeforeAll
    static void models() {
        manager = NDManager.newBaseManager();
        neurips = TestModels.randomModel(TestModels.neurips(2, List.of(1), VOCAB), manager, 3, 0.3f);
        large = TestModels.randomModel(TestModels.large(VOCAB, 4), manager, 4, 0.3f);
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static List<XLstmLanguageModel> bothModels() {
        return List.of(neurips, large);
    }

    private static Generator generator(XLstmLanguageModel model) {
        return new Generator(model, manager, new ByteCodec(VOCAB));
    }

    private static GenerationConfig.Builder greedy(int tokens) {
        return GenerationConfig.builder().maxNewTokens(tokens);
    }

    private static long[] prompt(int length, int seed) {
        return LongStream.range(0, length).map(i -> (i * 37 + seed * 11 + 5) % 256).toArray();
    }

    @Test
    void greedyEqualsArgmaxOfFullSequenceLogits() {
        for (XLstmLanguageModel model : bothModels()) {
            long[] p = prompt(9, 1);
            GenerationResult r = generator(model).generate(p, greedy(12).build());
            long[] seq = p;
            ParameterStore ps = new ParameterStore(manager, false);
            for (int k = 0; k < 12; k++) {
                try (NDManager scope = manager.newSubManager()) {
                    NDArray logits = model.logits(ps, scope.create(seq).reshape(1, seq.length), false);
                    float[] last = logits.get(0, seq.length - 1).toFloatArray();
                    long next = TokenChooser.argmax(toDouble(last));
                    assertEquals(next, r.tokens()[k], model.getConfig().architecture() + " token " + k);
                    double logProb = last[(int) next] - logSumExp(last);
                    assertEquals(logProb, r.logProbs()[k], 1e-4, "log-probability of token " + k);
                    seq = LongStream.concat(LongStream.of(seq), LongStream.of(next)).toArray();
                }
            }
            assertEquals(FinishReason.LENGTH, r.finishReason());
            assertEquals(9, r.promptTokens());
        }
    }

    @Test
    void seededSamplingIsReproducibleAndLimitsEqualGreedy() {
        for (XLstmLanguageModel model : bothModels()) {
            Generator g = generator(model);
            long[] p = prompt(5, 2);
            long[] greedyTokens = g.generate(p, greedy(20).build()).tokens();
            GenerationConfig sampling = greedy(20).temperature(1.0f).seed(42).build();
            long[] a = g.generate(p, sampling).tokens();
            assertArrayEquals(a, g.generate(p, sampling).tokens(), "same seed, same tokens");
            assertFalse(java.util.Arrays.equals(a, g.generate(p, sampling.toBuilder().seed(43).build()).tokens()),
                    "another seed should give other tokens");
            assertFalse(java.util.Arrays.equals(a, greedyTokens), "sampling at temperature 1 should differ from greedy");
            assertArrayEquals(greedyTokens, g.generate(p, greedy(20).temperature(1e-6f).seed(5).build()).tokens(),
                    "temperature -> 0");
            assertArrayEquals(greedyTokens, g.generate(p, greedy(20).temperature(1.5f).topK(1).seed(5).build()).tokens(),
                    "top-k 1");
            assertArrayEquals(greedyTokens, g.generate(p, greedy(20).temperature(1.5f).topP(1e-6f).seed(5).build()).tokens(),
                    "top-p -> 0");
            assertArrayEquals(greedyTokens, g.generate(p, greedy(20).temperature(1.5f).minP(0.999f).seed(5).build()).tokens(),
                    "min-p -> 1");
        }
    }

    @Test
    void repetitionPenaltyDiscouragesRepeats() {
        Generator g = generator(neurips);
        long[] p = prompt(4, 3);
        long[] plain = g.generate(p, greedy(40).build()).tokens();
        long[] penalized = g.generate(p, greedy(40).repetitionPenalty(5f).build()).tokens();
        long distinctPlain = LongStream.of(plain).distinct().count();
        long distinctPenalized = LongStream.of(penalized).distinct().count();
        assertTrue(distinctPenalized > distinctPlain,
                "distinct tokens: " + distinctPenalized + " with penalty vs " + distinctPlain + " without");
    }

    @Test
    void beamSearchWithOneBeamEqualsGreedy() {
        for (XLstmLanguageModel model : bothModels()) {
            Generator g = generator(model);
            long[] p = prompt(6, 4);
            GenerationResult greedy = g.generate(p, greedy(15).build());
            try (GenerationSession s = g.newSession()) {
                GenerationResult beam = new BeamSearch(g.stepper(), s, p, greedy(15).numBeams(1).build(), 0, null, false).run();
                assertArrayEquals(greedy.tokens(), beam.tokens());
                assertArrayEquals(greedy.logProbs(), beam.logProbs(), 1e-9);
                assertEquals(null, beam.seed(), "beam search samples nothing");
            }
        }
    }

    @Test
    void beamSearchBeatsGreedyWhereGreedyIsNotOptimal() {
        // A 5-token vocabulary makes the optimum of 4 new tokens checkable by brute force (625 sequences).
        int vocab = 5;
        int steps = 4;
        ParameterStore ps = new ParameterStore(manager, false);
        XLstmLanguageModel model = TestModels.randomModel(TestModels.neurips(2, List.of(1), vocab), manager, 11, 0.6f);
        Generator g = new Generator(model, manager, null);
        int greedyNotOptimal = 0;
        int beamBetter = 0;
        int beamOptimal = 0;
        for (int seed = 0; seed < 8; seed++) {
            int offset = seed;
            long[] p = LongStream.range(0, 3 + seed % 3).map(i -> (i * 3 + offset) % vocab).toArray();
            double optimum = bruteForceOptimum(model, ps, p, vocab, steps);
            GenerationResult greedy = g.generate(p, greedy(steps).build());
            GenerationResult beam = g.generate(p, greedy(steps).numBeams(3).lengthPenalty(0).build());
            assertEquals(steps, beam.tokens().length);
            assertTrue(beam.totalLogProb() <= optimum + 1e-5, "beam score above the optimum: bad bookkeeping");
            assertTrue(greedy.totalLogProb() <= optimum + 1e-5);
            // the beam's log-probabilities, computed on reordered states, equal a fresh full-sequence pass
            long[] seq = LongStream.concat(LongStream.of(p), LongStream.of(beam.tokens())).toArray();
            try (NDManager scope = manager.newSubManager()) {
                NDArray logits = model.logits(ps, scope.create(seq).reshape(1, seq.length), false);
                for (int k = 0; k < steps; k++) {
                    float[] row = logits.get(0, p.length - 1 + k).toFloatArray();
                    assertEquals(row[(int) beam.tokens()[k]] - logSumExp(row), beam.logProbs()[k], 1e-4);
                }
            }
            if (greedy.totalLogProb() < optimum - 1e-4) {
                greedyNotOptimal++;
                beamBetter += beam.totalLogProb() > greedy.totalLogProb() + 1e-4 ? 1 : 0;
            }
            beamOptimal += beam.totalLogProb() > optimum - 1e-4 ? 1 : 0;
        }
        assertTrue(greedyNotOptimal > 0, "greedy was optimal for every prompt: the test model is too easy");
        assertTrue(beamBetter > 0, "beam search never beat greedy where greedy was not optimal");
        assertTrue(beamOptimal >= 6, "beam search found the optimum for " + beamOptimal + " of 8 prompts");
    }

    @Test
    void beamSearchEndsSequencesAtEos() {
        // Every token but 4 is EOS, so the candidates are [4]*k + [eos] (k < 4) and [4, 4, 4, 4]:
        // beam search must return the most likely of them (length penalty 0).
        int vocab = 5;
        ParameterStore ps = new ParameterStore(manager, false);
        XLstmLanguageModel model = TestModels.randomModel(TestModels.neurips(2, List.of(1), vocab), manager, 12, 0.6f);
        Generator g = new Generator(model, manager, null);
        long[] p = {1, 3, 0};
        GenerationResult beam = g.generate(p, greedy(4).numBeams(3).lengthPenalty(0)
                .eosTokenIds(Set.of(0L, 1L, 2L, 3L)).build());
        double best = Double.NEGATIVE_INFINITY;
        long[] bestTokens = null;
        for (int k = 0; k <= 4; k++) {
            for (long v = 0; v < (k < 4 ? 4 : 1); v++) {
                long[] tokens = LongStream.concat(LongStream.range(0, k).map(i -> 4), k < 4 ? LongStream.of(v) : LongStream.empty()).toArray();
                double score = sequenceLogProb(model, ps, p, tokens);
                if (score > best) {
                    best = score;
                    bestTokens = tokens;
                }
            }
        }
        assertArrayEquals(bestTokens, beam.tokens());
        assertEquals(best, beam.totalLogProb(), 1e-4);
        assertEquals(bestTokens.length < 4 || bestTokens[3] != 4 ? FinishReason.EOS : FinishReason.LENGTH, beam.finishReason());
    }

    @Test
    void closingAStreamEarlyLeavesTheSessionAfterTheFedTokens() {
        Generator g = generator(neurips);
        long[] p = prompt(6, 12);
        long[] full = g.generate(p, greedy(12).build()).tokens();
        try (GenerationSession s = g.newSession()) {
            List<Long> pulled = new ArrayList<>();
            try (Generator.TokenStream it = g.stream(s, p, greedy(12).build())) {
                for (int i = 0; i < 5; i++) {
                    pulled.add(it.next().id());
                }
            }
            assertEquals(LongStream.of(full).limit(5).boxed().toList(), pulled);
            // four tokens were fed; the fifth was chosen from the session's logits and is chosen again
            assertEquals(p.length + 4, s.length());
            long[] rest = g.generate(s, new long[0], greedy(8).build(), null).tokens();
            assertArrayEquals(java.util.Arrays.copyOfRange(full, 4, 12), rest);
        }
    }

    @Test
    void aBatchStoppedAfterSomeSequencesFinishedLeavesEverySessionConsistent() {
        Set<Long> eos = LongStream.range(0, 20).boxed().collect(Collectors.toSet());
        Generator g = generator(neurips);
        ParameterStore ps = new ParameterStore(manager, false);
        List<long[]> prompts = List.of(prompt(3, 1), prompt(11, 2), prompt(1, 3), prompt(7, 4), prompt(5, 5));
        GenerationConfig config = greedy(25).temperature(1f).seed(7).eosTokenIds(eos).build();
        List<GenerationSession> sessions = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            sessions.add(g.newSession());
        }
        try {
            try (DecodeLoop loop = new DecodeLoop(g.stepper(), sessions, prompts, config, null, true)) {
                while (loop.activeCount() == prompts.size() || loop.activeCount() > 2) {
                    assertTrue(loop.step(), "every sequence finished before the batch shrank to 2");
                }
            }
            for (GenerationSession s : sessions) {
                // the session's state and logits are those of its own tokens, whatever row it had
                long[] seq = s.tokens();
                try (NDManager scope = manager.newSubManager()) {
                    float[] expected = model(s).logits(ps, scope.create(seq).reshape(1, seq.length), false)
                            .get(0, seq.length - 1).toFloatArray();
                    assertArrayEquals(expected, s.nextLogits(), 1e-4f);
                }
            }
        } finally {
            sessions.forEach(GenerationSession::close);
        }
    }

    private static XLstmLanguageModel model(GenerationSession s) {
        return s.getModel();
    }

    private static double sequenceLogProb(XLstmLanguageModel model, ParameterStore ps, long[] prompt, long[] tokens) {
        long[] seq = LongStream.concat(LongStream.of(prompt), LongStream.of(tokens)).toArray();
        try (NDManager scope = manager.newSubManager()) {
            NDArray logits = model.logits(ps, scope.create(seq).reshape(1, seq.length), false);
            double total = 0;
            for (int k = 0; k < tokens.length; k++) {
                float[] row = logits.get(0, prompt.length - 1 + k).toFloatArray();
                total += row[(int) tokens[k]] - logSumExp(row);
            }
            return total;
        }
    }

    /** The highest total log-probability of any {@code steps} tokens after {@code prompt}. */
    private static double bruteForceOptimum(XLstmLanguageModel model, ParameterStore ps, long[] prompt, int vocab, int steps) {
        int count = (int) Math.pow(vocab, steps);
        int len = prompt.length + steps;
        long[] all = new long[count * len];
        for (int s = 0; s < count; s++) {
            System.arraycopy(prompt, 0, all, s * len, prompt.length);
            for (int k = 0, rest = s; k < steps; k++, rest /= vocab) {
                all[s * len + prompt.length + k] = rest % vocab;
            }
        }
        try (NDManager scope = manager.newSubManager()) {
            float[] logits = model.logits(ps, scope.create(all).reshape(count, len), false).toFloatArray();
            double best = Double.NEGATIVE_INFINITY;
            for (int s = 0; s < count; s++) {
                double total = 0;
                for (int k = 0; k < steps; k++) {
                    int pos = prompt.length - 1 + k;
                    float[] row = java.util.Arrays.copyOfRange(logits, (s * len + pos) * vocab, (s * len + pos + 1) * vocab);
                    total += row[(int) all[s * len + pos + 1]] - logSumExp(row);
                }
                best = Math.max(best, total);
            }
            return best;
        }
    }

    @Test
    void batchedGenerationEqualsOneByOne() {
        Set<Long> eos = LongStream.range(0, 20).boxed().collect(Collectors.toSet());
        for (XLstmLanguageModel model : bothModels()) {
            Generator g = generator(model);
            List<long[]> prompts = List.of(prompt(3, 1), prompt(11, 2), prompt(1, 3), prompt(7, 4), prompt(5, 5));
            for (GenerationConfig config : List.of(
                    greedy(25).build(),
                    greedy(25).temperature(1f).topP(0.95f).topK(100).repetitionPenalty(1.2f).seed(7).eosTokenIds(eos).build())) {
                List<GenerationResult> batch = g.generateBatchIds(prompts, config, null);
                Set<Integer> lengths = new java.util.HashSet<>();
                for (int i = 0; i < prompts.size(); i++) {
                    // sequence i of a batch samples with seed + i
                    GenerationResult alone = g.generate(prompts.get(i), config.toBuilder().seed(config.seed() + i).build());
                    assertArrayEquals(alone.tokens(), batch.get(i).tokens(), "sequence " + i);
                    assertArrayEquals(alone.logProbs(), batch.get(i).logProbs(), 1e-4); // float32 round-off of batch 1 vs B matmuls
                    assertEquals(alone.finishReason(), batch.get(i).finishReason());
                    assertEquals(alone.text(), batch.get(i).text());
                    // the result names the seed that reproduces it alone (none when greedy)
                    assertEquals(config.isGreedy() ? null : config.seed() + i, batch.get(i).seed(), "sequence " + i);
                    assertEquals(batch.get(i).seed(), alone.seed());
                    lengths.add(alone.tokens().length);
                }
                if (!config.eosTokenIds().isEmpty()) {
                    assertTrue(lengths.size() > 1, "sequences should finish at different steps: " + lengths);
                }
            }
        }
    }

    @Test
    void streamingDeliversTheResultTokenByToken() {
        Generator g = generator(large);
        long[] p = prompt(4, 6);
        GenerationConfig config = greedy(30).temperature(0.8f).seed(3).build();
        List<GeneratedToken> streamed = new ArrayList<>();
        GenerationResult r;
        try (GenerationSession s = g.newSession()) {
            r = g.generate(s, p, config, streamed::add);
        }
        assertArrayEquals(r.tokens(), streamed.stream().mapToLong(GeneratedToken::id).toArray());
        assertEquals(r.text(), streamed.stream().map(GeneratedToken::text).collect(Collectors.joining()));
        List<GeneratedToken> pulled = new ArrayList<>();
        try (GenerationSession s = g.newSession()) {
            Generator.TokenStream it = g.stream(s, p, config);
            it.forEachRemaining(pulled::add);
            assertArrayEquals(r.tokens(), it.result().tokens());
        }
        assertEquals(streamed, pulled);
    }

    @Test
    void segmentedPrefillEqualsOnePass() {
        for (XLstmLanguageModel model : bothModels()) {
            Generator g = generator(model);
            long[] p = prompt(40, 7);
            GenerationResult one = g.generate(p, greedy(10).build());
            GenerationResult segmented = g.generate(p, greedy(10).prefillSegment(7).build());
            assertArrayEquals(one.tokens(), segmented.tokens());
            assertArrayEquals(one.logProbs(), segmented.logProbs(), 1e-4);
        }
    }

    @Test
    void aSavedSessionContinuesExactly(@TempDir Path dir) throws Exception {
        for (XLstmLanguageModel model : bothModels()) {
            Generator g = generator(model);
            long[] p = prompt(8, 8);
            long[] twenty = g.generate(p, greedy(20).build()).tokens();
            Path file = dir.resolve(model.getConfig().architecture() + ".session");
            long[] first;
            try (GenerationSession s = g.newSession()) {
                first = g.generate(s, p, greedy(10).build(), null).tokens();
                assertEquals(p.length + 10, s.length(), "the session holds the prompt and every generated token");
                s.save(file);
            }
            try (GenerationSession s = g.loadSession(file)) {
                long[] second = g.generate(s, new long[0], greedy(10).build(), null).tokens();
                assertArrayEquals(twenty, LongStream.concat(LongStream.of(first), LongStream.of(second)).toArray());
            }
        }
    }

    @Test
    void aStateFromAnotherModelIsRefused(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("neurips.session");
        try (GenerationSession s = generator(neurips).newSession()) {
            generator(neurips).generate(s, prompt(3, 1), greedy(2).build(), null);
            s.save(file);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> generator(large).loadSession(file));
        assertTrue(e.getMessage().contains("belongs to model " + neurips.getConfig().fingerprint()), e.getMessage());
        XLstmConfig sameShapeOtherVocab = TestModels.neurips(2, List.of(1), VOCAB + 1);
        try (NDManager m = NDManager.newBaseManager()) {
            XLstmLanguageModel other = TestModels.randomModel(sameShapeOtherVocab, m, 1, 0.1f);
            assertThrows(IllegalArgumentException.class, () -> GenerationSession.load(file, other, m));
        }
        Path notASession = dir.resolve("model.safetensors");
        ai.djl.xlstm.io.UpstreamCheckpoint.save(neurips, dir);
        e = assertThrows(IllegalArgumentException.class, () -> generator(neurips).loadSession(notASession));
        assertTrue(e.getMessage().contains("not an xLSTM session file"), e.getMessage());
        Path garbage = Files.write(dir.resolve("garbage.session"), new byte[] {1, 2, 3});
        assertThrows(IllegalArgumentException.class, () -> generator(neurips).loadSession(garbage));
    }

    @Test
    void badSettingsNameTheSetting() {
        assertMessage("temperature", () -> GenerationConfig.builder().temperature(-0.1f).build());
        assertMessage("topP", () -> GenerationConfig.builder().topP(0f).build());
        assertMessage("topP", () -> GenerationConfig.builder().topP(1.5f).build());
        assertMessage("numBeams", () -> GenerationConfig.builder().numBeams(0).build());
        assertMessage("minP", () -> GenerationConfig.builder().minP(1f).build());
        assertMessage("repetitionPenalty", () -> GenerationConfig.builder().repetitionPenalty(0f).build());
        assertMessage("maxNewTokens", () -> GenerationConfig.builder().maxNewTokens(-1).build());
        assertMessage("temperature must be 0", () -> GenerationConfig.builder().numBeams(2).temperature(0.7f).build());
        assertMessage("stopStrings", () -> GenerationConfig.builder().stopStrings(List.of("")).build());
        Generator g = generator(neurips);
        assertMessage("BOS", () -> g.generate(new long[0], greedy(3).build()));
        assertMessage("BOS", () -> g.generate("", greedy(3).build()));
        assertMessage("token id 999", () -> g.generate(new long[] {1, 999}, greedy(3).build()));
        // an empty prompt with a BOS token starts from it
        assertEquals(1, g.generate(new long[0], greedy(3).bosTokenId(256L).build()).promptTokens());
    }

    @Test
    void eosAndStopStringsEndSequences() {
        Generator g = generator(neurips);
        long[] p = prompt(5, 9);
        GenerationResult free = g.generate(p, greedy(30).build());
        long third = free.tokens()[2];
        GenerationResult eos = g.generate(p, greedy(30).eosTokenIds(Set.of(third)).build());
        assertEquals(FinishReason.EOS, eos.finishReason());
        assertEquals(3, eos.tokens().length, "stops at the first EOS, which is kept in the tokens");
        assertEquals(new ByteCodec(VOCAB).decode(new long[] {free.tokens()[0], free.tokens()[1]}), eos.text());
        assertEquals(0, g.generate(p, greedy(0).build()).tokens().length);
        String text = free.text();
        if (text.length() > 4) {
            String stop = text.substring(3, 5);
            GenerationResult stopped = g.generate(p, greedy(30).stopStrings(List.of(stop)).build());
            assertEquals(FinishReason.STOP, stopped.finishReason());
            assertEquals(text.substring(0, text.indexOf(stop)), stopped.text());
        }
    }

    @Test
    void beamSearchMatchesStopStringsAsDecodingDoes() {
        // A SentencePiece-like tokenizer drops the leading space of the text it decodes, so the first
        // generated token reads " w17" after the prompt but "w17" alone. DecodeLoop decodes with the
        // prompt as context and stops at the first token on " w"; beam search used to decode each
        // hypothesis alone and stopped one token later, with another text.
        Generator g = new Generator(neurips, manager, new PieceCodec(VOCAB));
        long[] p = prompt(5, 9);
        GenerationConfig.Builder config = greedy(10).stopStrings(List.of(" w"));
        GenerationResult greedy = g.generate(p, config.build());
        assertEquals(FinishReason.STOP, greedy.finishReason());
        assertEquals(1, greedy.tokens().length, "decoding stops at the first token: \" w\" is in its text");
        assertEquals("", greedy.text());
        for (int beams : new int[] {1, 3}) {
            GenerationResult beam = g.generate(p, config.numBeams(beams).lengthPenalty(0).build());
            assertEquals(FinishReason.STOP, beam.finishReason(), beams + " beams");
            assertArrayEquals(greedy.tokens(), beam.tokens(), beams + " beams stop where decoding stops");
            assertEquals(greedy.text(), beam.text(), beams + " beams");
        }
        // without stop strings both go on, and a matcher copied per hypothesis changes nothing
        GenerationResult free = g.generate(p, greedy(6).build());
        assertArrayEquals(free.tokens(), g.generate(p, greedy(6).numBeams(1).build()).tokens());
    }

    /**
     * A SentencePiece-like test tokenizer: token {@code i} is the word {@code "\u2581w" + i} (a word
     * with its leading space), and decoding drops the space in front of the text, as SentencePiece does.
     */
    private static final class PieceCodec implements TextCodec {
        private final int vocab;

        PieceCodec(int vocab) {
            this.vocab = vocab;
        }

        @Override
        public long[] encode(String text) {
            return java.util.Arrays.stream(text.trim().split(" ")).mapToLong(w -> Long.parseLong(w.substring(1)))
                    .toArray();
        }

        @Override
        public String decode(long[] ids) {
            StringBuilder b = new StringBuilder();
            for (long id : ids) {
                b.append(" w").append(id);
            }
            return b.length() == 0 ? "" : b.substring(1);
        }

        @Override
        public int vocabularySize() {
            return vocab;
        }

        @Override
        public java.util.OptionalLong endOfText() {
            return java.util.OptionalLong.empty();
        }
    }

    @Test
    void memoryStaysFlatOverTenThousandTokens() {
        try (NDManager m = NDManager.newBaseManager()) {
            XLstmLanguageModel model = TestModels.randomModel(TestModels.neurips(2, List.of(1), VOCAB), m, 5, 0.3f);
            Generator g = new Generator(model, m, null);
            int[] counts = new int[3];
            int[] seen = new int[1];
            GenerationResult r = g.generate(prompt(4, 1), greedy(10_000).temperature(1f).seed(1).build(), t -> {
                int n = ++seen[0];
                if (n == 100 || n == 5_000 || n == 10_000) {
                    counts[n == 100 ? 0 : n == 5_000 ? 1 : 2] = m.getManagedArrays().size();
                }
            });
            assertEquals(10_000, r.tokens().length);
            assertTrue(counts[0] > 0, "the count should include the live state");
            assertEquals(counts[0], counts[1], "live NDArrays at token 100 vs 5,000");
            assertEquals(counts[0], counts[2], "live NDArrays at token 100 vs 10,000");
        }
    }

    private static void assertMessage(String expected, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "message should name " + expected + ": " + e.getMessage());
    }

    private static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    private static double logSumExp(float[] v) {
        double max = Double.NEGATIVE_INFINITY;
        for (float x : v) {
            max = Math.max(max, x);
        }
        double sum = 0;
        for (float x : v) {
            sum += Math.exp(x - max);
        }
        return max + Math.log(sum);
    }
}
