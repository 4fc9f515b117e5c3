package ai.djl.xlstm.generate;

import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.state.XLstmState;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Beam search on the recurrent state, for one prompt: the beams are the rows of a batch, and after
 * every step the state is reordered by the beams' parent rows ({@link XLstmState#select}), which
 * is all a recurrent model needs (no key-value cache to gather).
 *
 * <p>Each step extends every live beam by every token, keeps the best {@code 2 * numBeams}
 * candidates by total log-probability, sets aside those ending in an EOS token or a stop string
 * (among the first {@code numBeams}) as finished, and continues with the best {@code numBeams}
 * others. A finished sequence's score is its total log-probability divided by {@code length ^
 * lengthPenalty}. Search stops at {@code maxNewTokens} (the live beams then count as finished) or
 * when {@code numBeams} sequences have finished and no live beam scores better than the worst of
 * them (Hugging Face's rule without early stopping).
 */
final class BeamSearch {

    private final Stepper stepper;
    private final GenerationSession session;
    private final long[] prompt;
    private final GenerationConfig config;
    private final int index;
    private final TokenListener listener;
    private final boolean feedLast;
    private final int vocab;

    /**
     * A partial or finished sequence; {@code matcher} has seen its tokens (null without a tokenizer
     * or stop strings) and is never pushed again once the hypothesis has been extended.
     */
    private record Hypothesis(long[] tokens, double[] rawLogProbs, double score, int parent, FinishReason reason,
            StreamingDecoder matcher) {
        double normalized(float lengthPenalty) {
            return lengthPenalty == 0 ? score : score / Math.pow(tokens.length, lengthPenalty);
        }

        Hypothesis extend(long id, double rawLogProb, double newScore, int row, FinishReason r,
                StreamingDecoder m) {
            long[] t = Arrays.copyOf(tokens, tokens.length + 1);
            t[tokens.length] = id;
            double[] lp = Arrays.copyOf(rawLogProbs, rawLogProbs.length + 1);
            lp[rawLogProbs.length] = rawLogProb;
            return new Hypothesis(t, lp, newScore, row, r, m);
        }
    }

    /** A candidate extension: beam row, token and total log-probability. */
    private record Candidate(int row, int token, double score) {}

    BeamSearch(Stepper stepper, GenerationSession session, long[] prompt, GenerationConfig config, int index,
            TokenListener listener, boolean feedLast) {
        this.stepper = stepper;
        this.session = session;
        this.prompt = prompt;
        this.config = config;
        this.index = index;
        this.listener = listener;
        this.feedLast = feedLast;
        this.vocab = stepper.vocab();
    }

    GenerationResult run() {
        long start = System.nanoTime();
        int promptTokens = stepper.prefill(session, prompt, config);
        long prefillNanos = System.nanoTime() - start;
        long decodeStart = System.nanoTime();
        int beams = config.numBeams();
        long[] history = session.tokensView();
        TokenChooser scorer = new TokenChooser(config, 0, vocab, history); // penalizes the history once for all beams
        // the matcher DecodeLoop uses, so both stop at the same token
        StreamingDecoder root = config.stopStrings().isEmpty() ? null
                : stepper.newDecoder(history, config.stopStrings());
        List<Hypothesis> live = List.of(new Hypothesis(new long[0], new double[0], 0, 0, null, root));
        List<Hypothesis> finished = new ArrayList<>();
        float[] logits = session.nextLogitsView();
        XLstmState state = session.state();
        NDManager stateManager = null;
        try {
            for (int step = 0; step < config.maxNewTokens() && !live.isEmpty(); step++) {
                List<Candidate> candidates = best(live, scorer, logits, 2 * beams);
                List<Hypothesis> next = new ArrayList<>();
                for (int rank = 0; rank < candidates.size() && next.size() < beams; rank++) {
                    Candidate c = candidates.get(rank);
                    Hypothesis parent = live.get(c.row());
                    double raw = TokenChooser.logProb(logits, c.row() * vocab, vocab, c.token());
                    StreamingDecoder matcher = parent.matcher() == null ? null : parent.matcher().copy();
                    FinishReason ends = endsWith(matcher, c.token());
                    if (ends != null) {
                        if (rank < beams) {
                            finished.add(parent.extend(c.token(), raw, c.score(), c.row(), ends, matcher));
                        }
                    } else {
                        next.add(parent.extend(c.token(), raw, c.score(), c.row(), null, matcher));
                    }
                }
                if (step == config.maxNewTokens() - 1 || done(finished, next)) {
                    for (Hypothesis h : next) {
                        finished.add(new Hypothesis(h.tokens(), h.rawLogProbs(), h.score(), h.parent(),
                                FinishReason.LENGTH, h.matcher()));
                    }
                    break;
                }
                live = next;
                if (live.isEmpty()) {
                    break;
                }
                long[] parents = new long[live.size()];
                long[] tokens = new long[live.size()];
                for (int b = 0; b < parents.length; b++) {
                    Hypothesis h = live.get(b);
                    parents[b] = h.parent();
                    tokens[b] = h.tokens()[h.tokens().length - 1];
                }
                NDManager nextManager = stepper.newScope();
                Stepper.Output out = stepper.step(state.select(parents), tokens, nextManager);
                if (stateManager != null) {
                    stateManager.close();
                }
                stateManager = nextManager;
                state = out.state();
                logits = out.logits();
            }
        } finally {
            if (stateManager != null) {
                stateManager.close();
            }
        }
        Hypothesis best = finished.stream()
                .max(Comparator.comparingDouble(h -> h.normalized(config.lengthPenalty())))
                .orElse(new Hypothesis(new long[0], new double[0], 0, 0, FinishReason.LENGTH, null));
        long decodeNanos = System.nanoTime() - decodeStart;
        String text = stream(best, history);
        if (feedLast && best.tokens().length > 0) {
            stepper.feed(session, best.tokens(), config.prefillSegment());
        }
        return new GenerationResult(best.tokens(), text, best.rawLogProbs(), best.reason(), promptTokens,
                prefillNanos, decodeNanos, null); // beam search samples nothing
    }

    /** The {@code count} best extensions of the live beams, best first. */
    private List<Candidate> best(List<Hypothesis> live, TokenChooser scorer, float[] logits, int count) {
        PriorityQueue<Candidate> heap = new PriorityQueue<>(Comparator.comparingDouble(Candidate::score));
        for (int b = 0; b < live.size(); b++) {
            Hypothesis h = live.get(b);
            double[] logSoftmax = scorer.penalizedLogSoftmax(logits, b * vocab, h.tokens());
            for (int v = 0; v < vocab; v++) {
                double score = h.score() + logSoftmax[v];
                if (heap.size() < count) {
                    heap.add(new Candidate(b, v, score));
                } else if (score > heap.peek().score()) {
                    heap.poll();
                    heap.add(new Candidate(b, v, score));
                }
            }
        }
        List<Candidate> out = new ArrayList<>(heap);
        out.sort(Comparator.comparingDouble(Candidate::score).reversed());
        return out;
    }

    /**
     * Whether {@code token} ends its sequence (EOS or a stop string), as in {@link DecodeLoop}:
     * pushes it to {@code matcher} (the parent's matcher copied, or null).
     */
    private FinishReason endsWith(StreamingDecoder matcher, long token) {
        if (config.eosTokenIds().contains(token)) {
            return FinishReason.EOS;
        }
        if (matcher != null) {
            matcher.push(token);
            if (matcher.stopped()) {
                return FinishReason.STOP;
            }
        }
        return null;
    }

    private boolean done(List<Hypothesis> finished, List<Hypothesis> live) {
        if (finished.size() < config.numBeams() || live.isEmpty()) {
            return live.isEmpty();
        }
        double worst = finished.stream().mapToDouble(h -> h.normalized(config.lengthPenalty()))
                .sorted().skip(finished.size() - config.numBeams()).findFirst().orElseThrow();
        double bestLive = live.stream().mapToDouble(h -> h.normalized(config.lengthPenalty())).max().orElseThrow();
        return bestLive <= worst;
    }

    /** Streams the chosen sequence to the listener and returns its text (null without a tokenizer). */
    private String stream(Hypothesis best, long[] history) {
        StreamingDecoder decoder = stepper.newDecoder(history, config.stopStrings());
        long[] tokens = best.tokens();
        for (int i = 0; i < tokens.length; i++) {
            String text = "";
            boolean eos = best.reason() == FinishReason.EOS && i == tokens.length - 1;
            if (decoder != null) {
                text = eos ? "" : decoder.push(tokens[i]);
                if (i == tokens.length - 1) {
                    text += decoder.finish();
                }
            }
            if (listener != null) {
                listener.onToken(new GeneratedToken(index, tokens[i], best.rawLogProbs()[i], text));
            }
        }
        return decoder == null ? null : decoder.text();
    }
}
