package ai.djl.xlstm.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.modality.nlp.generate.CausalLMOutput;
import ai.djl.modality.nlp.generate.SearchConfig;
import ai.djl.modality.nlp.generate.TextGenerator;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.translate.TranslateException;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** The token-id translators as a DJL user drives them: in a loop, and under DJL's TextGenerator. */
class LogitsTranslatorTest {

    private static final long[] PROMPT = {10, 20, 30, 40, 50};

    /**
     * Issue 14, item 14: the usual DJL loop (one caller's manager, the returned state fed back)
     * keeps in the caller's manager only what each call returns; before, every intermediate array
     * of the forward pass landed there too (about 155 arrays a call on the tiny model).
     */
    @Test
    void aLoopOfCallsKeepsOnlyWhatEachCallReturns() throws Exception {
        int calls = 200;
        try (ZooModel<NDList, NDList> model = ZooModelTest.byName(NDList.class, NDList.class).build().loadModel();
                Predictor<NDList, NDList> p = model.newPredictor();
                NDManager manager = NDManager.newBaseManager()) {
            int modelArrays = model.getNDManager().getManagedArrays().size();
            NDList state = XLstmBlockFactory.languageModel(model).zeroState(manager, manager.getDevice(), 1).toNDList();
            int start = manager.getManagedArrays().size();
            int returned = 0;
            for (int i = 0; i < calls; i++) {
                NDList out = p.predict(new NDList(manager.create(new long[][] {{i % 100}})).addAll(state));
                returned = out.size();
                state = out.subNDList(1);
            }
            int grown = manager.getManagedArrays().size() - start;
            System.out.printf("[logits] %d calls, nothing closed: %d arrays in the caller's manager (%d a call:"
                    + " the token array and the %d returned)%n", calls, grown, grown / calls, returned);
            assertEquals(calls * (1 + returned), grown, "per call: the caller's token array and the returned arrays");
            assertEquals(modelArrays, model.getNDManager().getManagedArrays().size(), "the model's manager");

            // a loop that closes what it no longer needs runs in constant memory
            NDArray token = manager.create(new long[][] {{7}});
            int before = manager.getManagedArrays().size();
            for (int i = 0; i < calls; i++) {
                NDList out = p.predict(new NDList(token).addAll(state));
                state.close();
                out.get(0).close();
                state = out.subNDList(1);
            }
            assertEquals(before, manager.getManagedArrays().size(), "closing the old state and the logits frees all");
            assertTrue(token.getManager() == manager && !token.isReleased(), "the input stays the caller's, open");
        }
    }

    /**
     * One token array shared by requests on four threads at once: every request gets the same
     * logits, and the array stays the caller's, open and unchanged (the translator reads it through
     * a view of its own; it never moves the caller's array between managers).
     */
    @Test
    void oneInputArraySharedByFourThreadsStaysTheCallersAndOpen() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (ZooModel<NDList, NDList> model = ZooModelTest.byName(NDList.class, NDList.class).build().loadModel();
                NDManager manager = NDManager.newBaseManager()) {
            NDArray tokens = manager.create(new long[][] {PROMPT});
            int arrays = manager.getManagedArrays().size();
            Callable<List<float[]>> requests = () -> {
                List<float[]> logits = new ArrayList<>();
                try (Predictor<NDList, NDList> p = model.newPredictor()) {
                    for (int i = 0; i < 20; i++) {
                        try (NDList out = p.predict(new NDList(tokens))) {
                            logits.add(out.get(0).toFloatArray());
                        }
                    }
                }
                return logits;
            };
            // computed on a pool thread too: PyTorch splits sums differently on the JVM's main thread
            float[] expected = pool.submit(requests).get().get(0);
            List<Future<List<float[]>>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                results.add(pool.submit(requests));
            }
            for (Future<List<float[]>> r : results) {
                for (float[] logits : r.get()) {
                    assertArrayEquals(expected, logits, 0f);
                }
            }
            assertSame(manager, tokens.getManager());
            assertFalse(tokens.isReleased());
            assertArrayEquals(PROMPT, tokens.toLongArray());
            assertEquals(arrays, manager.getManagedArrays().size(), "closing the outputs leaves the manager as it was");
        } finally {
            pool.shutdownNow();
        }
    }

    /** Issue 14, item 14: tokens alone give the state after them, and continuing from it is exact. */
    @Test
    void tokensAloneReturnTheStateToContinueFrom() throws Exception {
        try (ZooModel<NDList, NDList> model = ZooModelTest.byName(NDList.class, NDList.class).build().loadModel();
                Predictor<NDList, NDList> p = model.newPredictor();
                NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel lm = XLstmBlockFactory.languageModel(model);
            int stateSize = lm.zeroState(manager, manager.getDevice(), 1).toNDList().size();
            NDArray tokens = manager.create(new long[][] {PROMPT});
            NDList whole = p.predict(new NDList(tokens));
            assertEquals(1 + stateSize, whole.size(), "logits and the state");
            assertEquals(new Shape(1, PROMPT.length, lm.getConfig().vocabSize()), whole.get(0).getShape());
            assertSame(manager, whole.get(0).getManager(), "the outputs belong to the input's manager");
            NDArray reference = lm.logits(new ParameterStore(manager, false), tokens, false);
            assertArrayEquals(reference.toFloatArray(), whole.get(0).toFloatArray(), 1e-5f, "the logits of the prompt");

            NDList head = p.predict(new NDList(tokens.get(":, :3")));
            NDList tail = p.predict(new NDList(tokens.get(":, 3:")).addAll(head.subNDList(1)));
            assertArrayEquals(whole.get(0).get(":, 3:").toFloatArray(), tail.get(0).toFloatArray(), 1e-5f,
                    "the prompt in two calls, through the returned state");
            for (int i = 1; i < whole.size(); i++) {
                assertArrayEquals(whole.get(i).toFloatArray(), tail.get(i).toFloatArray(), 1e-5f, "state array " + i);
            }
        }
    }

    /**
     * Issue 14, item 6: DJL's beam and contrastive search fail before their second step with a
     * message that names our beam search; before, a raw shape error (beam) or an assertion / null
     * pointer inside DJL (contrastive).
     */
    @Test
    void djlTextGeneratorBeamAndContrastiveSearchFailNamingNumBeams() throws Exception {
        try (ZooModel<NDList, CausalLMOutput> model =
                        ZooModelTest.byName(NDList.class, CausalLMOutput.class).build().loadModel();
                Predictor<NDList, CausalLMOutput> p = model.newPredictor();
                NDManager manager = NDManager.newBaseManager()) {
            SearchConfig search = new SearchConfig();
            search.setMaxSeqLength(PROMPT.length + 4);
            for (String mode : new String[] {"beam", "contrastive"}) {
                TextGenerator generator = new TextGenerator(p, mode, search);
                NDArray prompt = manager.create(new long[][] {PROMPT});
                TranslateException e = assertThrows(TranslateException.class, () -> generator.generate(prompt), mode);
                String message = messages(e);
                assertTrue(message.contains("TextGenerator " + mode + "Search") && message.contains("num_beams")
                        && message.contains("greedy search works"), message);
            }
            // greedy search still runs (its tokens are checked against ours in ZooModelTest)
            long[] greedy = new TextGenerator(p, "greedy", search).generate(manager.create(new long[][] {PROMPT}))
                    .toLongArray();
            assertEquals(PROMPT.length + 4, greedy.length);
        }
    }

    private static String messages(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            sb.append(c).append('\n');
        }
        return sb.toString();
    }
}
