package ai.djl.xlstm.mlstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.internal.MLstmKernels;
import ai.djl.xlstm.state.MLstmCellState;

import org.junit.jupiter.api.Test;

/**
 * The mLSTM cell as a DJL block: its single-array forward takes {@code concat(q, k, v)} (it threw
 * before), {@code [q, k, v]} gives {@code [h]} and {@code [q, k, v, C, n, m]} continues a memory.
 */
class MLstmCellContractTest {

    private static final int NH = 2;
    private static final int DIM = 8; // NH * DH

    private static NDArray positions(NDArray x, long from, long to) {
        return x.get(new NDIndex().addAllDim().addSliceDim(from, to));
    }

    private static float maxDiff(NDArray a, NDArray b) {
        assertEquals(a.getShape(), b.getShape());
        return a.sub(b).abs().max().getFloat();
    }

    @Test
    void theCellTakesQkvAsOneArrayOrThreeAndCarriesItsMemory() {
        try (NDManager manager = NDManager.newBaseManager()) {
            MLstmCell cell = new MLstmCell(DIM, NH);
            cell.initialize(manager, DataType.FLOAT32, new Shape(1, 1, DIM));
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray q = manager.randomNormal(new Shape(2, 7, DIM)); // [B, S, NH * DH]
            NDArray k = manager.randomNormal(new Shape(2, 7, DIM));
            NDArray v = manager.randomNormal(new Shape(2, 7, DIM));

            NDArray h = cell.forward(ps, new NDList(q, k, v), false).singletonOrThrow(); // [B, S, NH * DH]
            NDArray qkv = NDArrays.concat(new NDList(q, k, v), 2); // [B, S, 3 * NH * DH]
            assertTrue(maxDiff(h, cell.forward(ps, qkv, false)) < 1e-6f);

            MLstmCellState zero = MLstmKernels.zeroState(manager, q.getDevice(), 2, NH, DIM / NH, DIM / NH);
            NDList first = new NDList(positions(q, 0, 4), positions(k, 0, 4), positions(v, 0, 4));
            first.addAll(zero.tensors());
            NDList out1 = cell.forward(ps, first, false);
            assertEquals(4, out1.size());
            NDList second = new NDList(positions(q, 4, 7), positions(k, 4, 7), positions(v, 4, 7));
            second.addAll(out1.subNDList(1));
            NDList out2 = cell.forward(ps, second, false);
            NDArray carried = NDArrays.concat(new NDList(out1.get(0), out2.get(0)), 1);
            assertTrue(maxDiff(h, carried) < 2e-5f, "carried " + maxDiff(h, carried));

            IllegalArgumentException bad =
                    assertThrows(IllegalArgumentException.class, () -> cell.forward(ps, q, false));
            assertTrue(bad.getMessage().contains("[B, S, 24]"), bad.getMessage());
            assertThrows(IllegalArgumentException.class, () -> cell.forward(ps, new NDList(q, k), false));
        }
    }
}
