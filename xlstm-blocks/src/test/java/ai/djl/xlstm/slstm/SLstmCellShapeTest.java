package ai.djl.xlstm.slstm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;

import org.junit.jupiter.api.Test;

/** The sLSTM cell's {@code getOutputShapes} tells the shape its {@code forward} returns. */
class SLstmCellShapeTest {

    @Test
    void theCellReportsItsOutputShape() {
        try (NDManager manager = NDManager.newBaseManager()) {
            SLstmCell cell = new SLstmCell(16, 4, 0, 1);
            Shape input = new Shape(2, 6, 64); // [B, S, 4 * NH * DH]: the four gates' inputs
            cell.initialize(manager, DataType.FLOAT32, input);
            NDArray y = cell.forward(new ParameterStore(manager, false), manager.randomNormal(input), false);
            assertEquals(y.getShape(), cell.getOutputShapes(new Shape[] {input})[0]);
        }
    }
}
