package ai.djl.xlstm.examples.formal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Task names, vocabulary layout and length rules. */
class FormalTaskTest {

    @Test
    void parsesCliNames() {
        assertEquals(FormalTask.PARITY, FormalTask.parse("parity"));
        assertEquals(FormalTask.EVEN_PAIRS, FormalTask.parse("even-pairs"));
        assertEquals(FormalTask.CYCLE_NAVIGATION, FormalTask.parse("cycle-navigation"));
        assertEquals(FormalTask.MODULAR_ARITHMETIC, FormalTask.parse("modular-arithmetic"));
        assertEquals(FormalTask.MQAR, FormalTask.parse("mqar"));
        assertEquals(FormalTask.EVEN_PAIRS, FormalTask.parse("EVEN_PAIRS"));
    }

    @Test
    void unknownNameListsValidNames() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> FormalTask.parse("bucket-sort"));
        assertEquals("unknown formal-language task 'bucket-sort'; valid names: "
                + "parity, even-pairs, cycle-navigation, modular-arithmetic, mqar", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> FormalTask.parse(null));
    }

    @Test
    void vocabularyLayout() {
        assertEquals(5, FormalTask.PARITY.vocabSize());
        assertEquals(5, FormalTask.EVEN_PAIRS.vocabSize());
        assertEquals(9, FormalTask.CYCLE_NAVIGATION.vocabSize());
        assertEquals(14, FormalTask.MODULAR_ARITHMETIC.vocabSize());
        assertEquals(257, FormalTask.MQAR.vocabSize());
        for (FormalTask task : FormalTask.values()) {
            assertEquals(task.vocabSize() - 1, task.padToken());
            assertTrue(task.firstLabelToken() + task.labelCount() <= task.padToken());
            assertTrue(task.inputSymbols() <= task.padToken());
        }
        assertEquals(128, FormalTask.MQAR.firstLabelToken());
    }

    @Test
    void scoringAndLengthRules() {
        assertFalse(FormalTask.MQAR.evaluatesLastPosition());
        assertTrue(FormalTask.PARITY.evaluatesLastPosition());
        assertEquals(4, FormalTask.MQAR.exampleLength(1));
        assertEquals(9, FormalTask.MQAR.exampleLength(9));
        assertEquals(41, FormalTask.MODULAR_ARITHMETIC.exampleLength(42));
        assertEquals(41, FormalTask.MODULAR_ARITHMETIC.exampleLength(41));
        assertEquals(1, FormalTask.PARITY.exampleLength(1));
        assertThrows(IllegalArgumentException.class, () -> FormalTask.PARITY.exampleLength(0));
    }
}
