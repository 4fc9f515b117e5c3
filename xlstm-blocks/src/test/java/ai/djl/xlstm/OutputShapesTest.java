package ai.djl.xlstm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.xlstm.components.AbstractXLstmBlock;
import ai.djl.xlstm.components.LinearHeadwiseExpand;
import ai.djl.xlstm.components.MultiHeadLayerNorm;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;

import java.util.List;

/** {@code getOutputShapes} tells the shape that {@code forward} really returns. */
class OutputShapesTest {

    static void check(AbstractXLstmBlock block, Shape input, NDManager manager) {
        block.initialize(manager, DataType.FLOAT32, input);
        NDArray x = manager.randomNormal(input);
        NDArray y = block.forward(new ParameterStore(manager, false), x, false);
        assertEquals(y.getShape(), block.getOutputShapes(new Shape[] {input})[0], block.getClass().getSimpleName());
    }

    @Test
    void shapeChangingBlocksReportTheirOutputShape() {
        try (NDManager manager = NDManager.newBaseManager()) {
            check(new LinearHeadwiseExpand(12, 3, 2, Initializer.ONES), new Shape(2, 5, 12), manager);
            check(new MultiHeadLayerNorm(4, 32, 1e-5f, true, false), new Shape(2, 4, 7, 8), manager);
        }
    }

    @Test
    void languageModelsReportLogitsShape() {
        try (NDManager manager = NDManager.newBaseManager()) {
            for (var config : List.of(TestModels.neurips(3, List.of(1), 50), TestModels.large(50, 8))) {
                XLstmLanguageModel model = XLstmLanguageModel.create(config);
                Shape input = new Shape(2, 9);
                Block block = model;
                block.initialize(manager, DataType.FLOAT32, input);
                NDArray tokens = manager.randomInteger(0, 50, input, DataType.INT64);
                NDArray logits = model.logits(new ParameterStore(manager, false), tokens, false);
                assertEquals(logits.getShape(), block.getOutputShapes(new Shape[] {input})[0], config.architecture());
            }
        }
    }
}
