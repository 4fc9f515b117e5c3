package ai.djl.xlstm.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;

/** The Java-side token choice against a direct implementation of Hugging Face's warpers. */
class TokenChooserTest {

    /**
     * Reference: softmax(logits / T), then top-k (keep the k largest), top-p (renormalize over
     * what is left, sort descending, keep the smallest prefix reaching p), min-p (drop below minP
     * times the largest), renormalize; full sorts, no shortcuts.
     */
    private static double[] reference(float[] logits, float t, int topK, float topP, float minP) {
        int v = logits.length;
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l / (double) t);
        }
        double[] p = new double[v];
        for (int i = 0; i < v; i++) {
            p[i] = Math.exp(logits[i] / (double) t - max);
        }
        Integer[] order = IntStream.range(0, v).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -p[i]).thenComparingInt(i -> i));
        boolean[] keep = new boolean[v];
        int k = topK > 0 ? Math.min(topK, v) : v;
        double kept = 0;
        for (int r = 0; r < k; r++) {
            kept += p[order[r]];
        }
        double cumulative = 0;
        for (int r = 0; r < k; r++) {
            keep[order[r]] = true;
            cumulative += p[order[r]];
            if (topP < 1 && cumulative >= topP * kept) {
                break;
            }
        }
        double total = 0;
        for (int i = 0; i < v; i++) {
            if (!keep[i] || p[i] < minP * p[order[0]]) {
                p[i] = 0;
            }
            total += p[i];
        }
        for (int i = 0; i < v; i++) {
            p[i] /= total;
        }
        return p;
    }

    @Test
    void filtersMatchAFullSortReference() {
        Random random = new Random(3);
        for (int vocab : new int[] {7, 300, 5000}) {
            for (double spread : new double[] {0.5, 3, 8}) {
                float[] logits = new float[vocab];
                for (int i = 0; i < vocab; i++) {
                    logits[i] = (float) (random.nextGaussian() * spread);
                }
                for (int topK : new int[] {0, 1, 5, 50}) {
                    for (float topP : new float[] {1f, 0.9f, 0.5f, 0.05f}) {
                        for (float minP : new float[] {0f, 0.05f}) {
                            GenerationConfig config = GenerationConfig.builder().temperature(0.7f).topK(topK).topP(topP)
                                    .minP(minP).build();
                            double[] actual = new TokenChooser(config, 0, vocab, new long[0]).distribution(logits, 0);
                            double[] expected = reference(logits, 0.7f, topK, topP, minP);
                            String what = "V " + vocab + " spread " + spread + " top-k " + topK + " top-p " + topP + " min-p " + minP;
                            for (int i = 0; i < vocab; i++) {
                                assertEquals(expected[i] == 0, actual[i] == 0, what + ": token " + i + " kept differently");
                                assertEquals(expected[i], actual[i], 1e-9, what + ": token " + i);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void drawsFollowTheDistribution() {
        float[] logits = {0f, 1f, 2f, -1f, 0.5f};
        GenerationConfig config = GenerationConfig.builder().temperature(1f).topK(4).build();
        TokenChooser chooser = new TokenChooser(config, 9, logits.length, new long[0]);
        double[] expected = reference(logits, 1f, 4, 1f, 0f);
        int[] counts = new int[logits.length];
        int n = 200_000;
        for (int i = 0; i < n; i++) {
            counts[(int) chooser.choose(logits, 0)]++;
        }
        assertEquals(0, counts[3], "token 3 is outside the top 4");
        for (int i = 0; i < logits.length; i++) {
            double sd = Math.sqrt(n * expected[i] * (1 - expected[i]));
            assertTrue(Math.abs(counts[i] - n * expected[i]) <= 5 * sd + 1,
                    "token " + i + ": " + counts[i] + " draws, expected " + n * expected[i]);
        }
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        float[] logits = {2f, -2f, 1f, -1f};
        GenerationConfig config = GenerationConfig.builder().temperature(1f).repetitionPenalty(2f).build();
        double[] actual = new TokenChooser(config, 0, 4, new long[] {0, 1}).distribution(logits, 0);
        assertArrayEquals(reference(new float[] {1f, -4f, 1f, -1f}, 1f, 0, 1f, 0f), actual, 1e-12);
    }

    @Test
    void beamScoringPenalizesTheBeamsTokensWithoutRecordingThem() {
        float[] logits = {2f, -2f, 1f, -1f, 0.5f};
        GenerationConfig config = GenerationConfig.builder().repetitionPenalty(2f).build();
        TokenChooser scorer = new TokenChooser(config, 0, 5, new long[] {0});
        double[] first = scorer.penalizedLogSoftmax(logits, 0, new long[] {1, 1, 2});
        double[] fresh = new TokenChooser(config, 0, 5, new long[] {0, 1, 2}).penalizedLogSoftmax(logits, 0, new long[0]);
        assertArrayEquals(fresh, first, 1e-12);
        double[] other = scorer.penalizedLogSoftmax(logits, 0, new long[] {4});
        assertArrayEquals(new TokenChooser(config, 0, 5, new long[] {0, 4}).penalizedLogSoftmax(logits, 0, new long[0]),
                other, 1e-12);
    }
}
