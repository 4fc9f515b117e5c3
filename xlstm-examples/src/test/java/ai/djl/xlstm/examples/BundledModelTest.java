package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;
import ai.djl.xlstm.training.TextEvaluation;
import ai.djl.xlstm.zoo.HuggingFaceTextCodec;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The bundled model keeps the promise of its model card. */
class BundledModelTest {

    @Test
    void heldOutPerplexityOnAPrefixOfPersuasionMatchesTheModelCard() throws Exception {
        Path dir = ModelFolder.zooFolder("xlstm-austen-small");
        String card = Files.readString(dir.resolve("MODEL_CARD.md"), StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("first ([0-9,]+) tokens of Persuasion[^:]*: perplexity ([0-9]+\\.[0-9]+)").matcher(card);
        assertTrue(m.find(), "the model card states the perplexity of a prefix of Persuasion");
        int count = Integer.parseInt(m.group(1).replace(",", ""));
        double stated = Double.parseDouble(m.group(2));
        String book = Files.readString(Path.of("data/corpus/heldout/persuasion.txt"), StandardCharsets.UTF_8);
        try (NDManager manager = NDManager.newBaseManager();
                HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(dir.resolve("tokenizer.json"))) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(dir, manager);
            long[] tokens = TextEvaluation.asDocument(Arrays.copyOf(codec.encode(book), count), codec.endOfText()); // as xlstm eval reads a text
            TextEvaluation.Result r = TextEvaluation.evaluate(model, manager, tokens, 512, null);
            System.out.printf("[card] first %d tokens of Persuasion: perplexity %.3f (card: %.2f)%n", count, r.perplexity(), stated);
            assertEquals(count, r.tokens());
            assertEquals(stated, r.perplexity(), 0.01, "the model card's figure");
        }
    }
}
