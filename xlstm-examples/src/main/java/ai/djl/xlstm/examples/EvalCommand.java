package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.training.util.ProgressBar;
import ai.djl.xlstm.training.TextEvaluation;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code xlstm eval}: the perplexity of a model on a text of any length, read in segments with
 * the recurrent state carried (bounded memory). The text is read as one sequence after the
 * tokenizer's end-of-text token (the separator the model saw between training documents), so
 * every token of the text is predicted.
 */
@Command(name = "eval",
        description = "Measure a model's loss and perplexity on a text.")
final class EvalCommand implements Callable<Integer> {

    @Mixin
    private ModelSource source;

    @Option(names = "--text", required = true, paramLabel = "FILE", description = "the text to evaluate (UTF-8)")
    private Path text;

    @Mixin
    private TokenizerOption tokenizer;

    @Option(names = "--segment", defaultValue = "512", paramLabel = "N",
            description = "tokens per forward pass, at most " + TextEvaluation.MAX_SEGMENT + " (a longer segment is"
                    + " read in parts of that many); the state carries across (default: ${DEFAULT-VALUE})")
    private int segment;

    @Option(names = "--max-tokens", paramLabel = "N", description = "evaluate only the first N tokens of the text (default: all)")
    private Integer maxTokens;

    @Option(names = "--json", description = "end with one JSON line: tokens, loss, perplexity (null when not finite, with the error; exit code 1)")
    private boolean json;

    @Mixin
    private WeightsOption weights;

    @Mixin
    private DeviceOptions engine;

    @Override
    public Integer call() throws Exception {
        Device device = engine.device();
        if (!Files.isRegularFile(text)) {
            throw new IllegalArgumentException("--text: file not found: " + text);
        }
        if (segment < 1) {
            throw new IllegalArgumentException("--segment must be >= 1, got " + segment);
        }
        if (segment > TextEvaluation.MAX_SEGMENT) {
            System.err.printf(Locale.ROOT, "note: --segment %d is above %d; reading in segments of %d (the state"
                    + " carries across, so the result is the same)%n", segment, TextEvaluation.MAX_SEGMENT,
                    TextEvaluation.MAX_SEGMENT);
        }
        String content = Files.readString(text, StandardCharsets.UTF_8);
        try (ModelFolder folder = ModelFolder.open(source, tokenizer.path(), device, weights.type())) {
            long[] ids = folder.codec().encode(content);
            if (maxTokens != null) {
                if (maxTokens < 1) {
                    throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
                }
                ids = Arrays.copyOf(ids, Math.min(ids.length, maxTokens));
            }
            long[] tokens = TextEvaluation.asDocument(ids, folder.codec().endOfText());
            long start = System.nanoTime();
            TextEvaluation.Result r = TextEvaluation.evaluate(folder.model(), folder.manager(), tokens, segment,
                    new ProgressBar());
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf(Locale.ROOT, "%s on %s: %,d tokens, loss %.4f nats, perplexity %.2f (%.1f s, %.0f tokens/s)%n",
                    source.describe(), text.getFileName(), r.tokens(), r.loss(), r.perplexity(), seconds,
                    r.tokens() / seconds);
            String broken = Double.isFinite(r.loss()) ? null : "the loss is " + r.loss()
                    + ": the model's outputs are not finite (corrupt or diverged weights?)";
            if (json) {
                // JSON has no NaN or Infinity: a value that is not finite is null
                JsonObject o = new JsonObject();
                o.addProperty("tokens", r.tokens());
                o.addProperty("loss", Double.isFinite(r.loss()) ? r.loss() : null);
                o.addProperty("perplexity", Double.isFinite(r.perplexity()) ? r.perplexity() : null);
                if (broken != null) {
                    o.addProperty("error", broken);
                }
                System.out.println(o);
            }
            if (broken != null) {
                throw new IllegalStateException(broken);
            }
        }
        return 0;
    }
}
