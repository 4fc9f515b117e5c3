import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.xlstm.zoo.HuggingFaceTextCodec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Memory benchmark of the Criteria {@code NDList -> NDList} path on xlstm-austen-small over a long
 * sequence. Arguments: a text file, a number of tokens, {@code logits} ({@code [tokens]}) or
 * {@code state} ({@code [tokens, zero state...]}); {@code -Dsegment=N} sets the model's inference
 * segment. Run after {@code mvn -o -q -B -pl xlstm-examples -am package -DskipTests}:
 *
 * <pre>
 * /usr/bin/time -v java -Dai.djl.offline=true -cp "xlstm-examples/target/xlstm.jar:xlstm-examples/target/lib/*" \
 *     xlstm-examples/bench/LongSequenceMemory.java xlstm-examples/data/corpus/heldout/persuasion.txt 20000 logits
 * </pre>
 *
 * and read "Maximum resident set size". It prints the logits' shape, mean and one value, which do
 * not depend on the segment.
 */
public class LongSequenceMemory {
    public static void main(String[] args) throws Exception {
        Path text = Path.of(args[0]);
        int n = Integer.parseInt(args[1]);
        boolean withState = args.length > 2 && args[2].equals("state");
        Criteria<NDList, NDList> c = Criteria.builder().setTypes(NDList.class, NDList.class)
                .optGroupId("ai.djl.xlstm").optArtifactId("xlstm-austen-small").build();
        try (ZooModel<NDList, NDList> model = c.loadModel();
                Predictor<NDList, NDList> p = model.newPredictor();
                NDManager manager = NDManager.newBaseManager();
                HuggingFaceTextCodec codec = HuggingFaceTextCodec.load(model.getModelPath().resolve("tokenizer.json"))) {
            long[] ids = codec.encode(Files.readString(text));
            if (ids.length < n) throw new IllegalArgumentException("text has only " + ids.length + " tokens");
            ids = Arrays.copyOf(ids, n);
            NDList in = new NDList(manager.create(ids).reshape(1, n));
            if (System.getProperty("segment") != null) {
                ((ai.djl.xlstm.model.XLstmLanguageModel) model.getBlock()).setInferenceSegment(Integer.getInteger("segment"));
            }
            if (withState) {
                ai.djl.xlstm.model.XLstmLanguageModel lm = (ai.djl.xlstm.model.XLstmLanguageModel) model.getBlock();
                in.addAll(lm.zeroState(manager, manager.getDevice(), 1).toNDList());
            }
            long t0 = System.nanoTime();
            NDList out = p.predict(in);
            NDArray logits = out.get(0);
            System.out.printf("tokens %d, logits %s, outputs %d, mean %.6f, last %.4f, %.1f s%n", n, logits.getShape(), out.size(),
                    logits.mean().getFloat(), logits.get(0, n - 1, 0).getFloat(), (System.nanoTime() - t0) / 1e9);
        }
    }
}
