package ai.djl.xlstm.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.TestModels;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** Generation stops from another thread, within a step, and frees its memory. */
class CancellationTest {

    private static final int VOCAB = 260;
    private static NDManager manager;
    private static XLstmLanguageModel model;

    @BeforeAll
    static void model() {
        manager = NDManager.newBaseManager();
        model = TestModels.randomModel(TestModels.neurips(2, List.of(1), VOCAB), manager, 3, 0.3f);
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static GenerationConfig endless() {
        return GenerationConfig.builder().maxNewTokens(1_000_000).temperature(1f).seed(1).build();
    }

    @Test
    void closingAStreamFromAnotherThreadStopsItWithinAStep() throws Exception {
        Generator generator = new Generator(model, manager, new ByteCodec(VOCAB));
        long arraysBefore = manager.getManagedArrays().size();
        try (GenerationSession session = generator.newSession()) {
            Generator.TokenStream stream = generator.stream(session, new long[] {1, 2, 3}, endless());
            CountDownLatch started = new CountDownLatch(5);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread consumer = new Thread(() -> {
                try {
                    while (stream.hasNext()) {
                        stream.next();
                        started.countDown();
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            consumer.start();
            assertTrue(started.await(60, TimeUnit.SECONDS));
            stream.close(); // from this thread, while the consumer is decoding
            consumer.join(10_000);
            assertFalse(consumer.isAlive(), "the consumer stopped");
            assertEquals(null, failure.get(), "the consumer saw no exception");
            GenerationResult r = stream.result();
            assertEquals(FinishReason.CANCELLED, r.finishReason());
            assertTrue(r.tokens().length >= 5 && r.tokens().length < 1_000_000, "tokens " + r.tokens().length);
            assertEquals("cancelled", r.finishReason().jsonName());
        }
        assertEquals(arraysBefore, manager.getManagedArrays().size(), "the cancelled generation freed its arrays");
    }

    @Test
    void interruptingTheGeneratingThreadEndsGenerateWithWhatItHas() throws Exception {
        Generator generator = new Generator(model, manager, new ByteCodec(VOCAB));
        AtomicReference<GenerationResult> result = new AtomicReference<>();
        AtomicReference<Boolean> stillInterrupted = new AtomicReference<>();
        CountDownLatch tokens = new CountDownLatch(3);
        Thread worker = new Thread(() -> {
            result.set(generator.generate(new long[] {1, 2, 3}, endless(), t -> tokens.countDown()));
            stillInterrupted.set(Thread.currentThread().isInterrupted());
        });
        worker.start();
        assertTrue(tokens.await(60, TimeUnit.SECONDS));
        worker.interrupt();
        worker.join(10_000);
        assertFalse(worker.isAlive(), "generate returned after the interrupt");
        assertEquals(FinishReason.CANCELLED, result.get().finishReason());
        assertTrue(stillInterrupted.get(), "the interrupt stays set for the caller");
    }

    @Test
    void anInterruptedPromptIsNotReadToTheEnd() {
        Generator generator = new Generator(model, manager, new ByteCodec(VOCAB));
        try (GenerationSession session = generator.newSession()) {
            Thread.currentThread().interrupt();
            try {
                assertThrows(java.util.concurrent.CancellationException.class,
                        () -> generator.prefill(session, new long[100], 10));
            } finally {
                Thread.interrupted();
            }
        }
    }

    @Test
    void beamsAreCapped() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GenerationConfig.builder().numBeams(20_000).build());
        assertTrue(e.getMessage().contains("[1, 64]") && e.getMessage().contains("20000"), e.getMessage());
    }
}
