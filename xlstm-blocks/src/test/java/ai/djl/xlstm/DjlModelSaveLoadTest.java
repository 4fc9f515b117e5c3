package ai.djl.xlstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.xlstm.config.XLstmConfig;
import ai.djl.xlstm.model.XLstmLanguageModel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

/** Our blocks round-trip through DJL's own parameter files ({@code Model.save / load}). */
class DjlModelSaveLoadTest {

    @Test
    void saveAndLoadKeepsOutputs(@TempDir Path dir) throws Exception {
        for (XLstmConfig config : List.of(TestModels.neurips(2, List.of(0), 25), TestModels.large(25, 4))) {
            long[] ids = {1, 5, 9, 24, 0, 3, 7};
            float[] before;
            try (Model model = Model.newInstance("xlstm")) {
                NDManager manager = model.getNDManager();
                XLstmLanguageModel block = TestModels.randomModel(config, manager, 9, 0.2f);
                model.setBlock(block);
                NDArray tokens = manager.create(ids).reshape(1, ids.length);
                before = block.logits(new ParameterStore(manager, false), tokens, false).toFloatArray();
                model.save(dir, config.architecture());
            }
            try (Model model = Model.newInstance("xlstm")) {
                XLstmLanguageModel block = XLstmLanguageModel.create(config);
                model.setBlock(block);
                model.load(dir, config.architecture());
                NDManager manager = model.getNDManager();
                NDArray tokens = manager.create(ids).reshape(1, ids.length);
                float[] after = block.logits(new ParameterStore(manager, false), tokens, false).toFloatArray();
                assertEquals(before.length, after.length);
                for (int i = 0; i < before.length; i++) {
                    assertTrue(before[i] == after[i], config.architecture() + " logit " + i);
                }
            }
        }
    }
}
