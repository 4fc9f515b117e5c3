package ai.djl.xlstm.zoo;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.nio.file.Path;

/**
 * The bundled tiny model's folder (in DJL's cache, as the zoo copied it), its tokenizer, and the
 * model loaded from it directly, for tests that compare a translator with the generator.
 */
final class BundledFolder implements AutoCloseable {

    final Path folder;
    final NDManager manager;
    final HuggingFaceTextCodec codec;
    final XLstmLanguageModel direct;

    private BundledFolder(Path folder) throws Exception {
        this.folder = folder;
        manager = NDManager.newBaseManager();
        codec = HuggingFaceTextCodec.load(folder.resolve("tokenizer.json"));
        direct = ZooModelTest.direct(manager, folder);
    }

    static BundledFolder open() throws Exception {
        try (ZooModel<NDList, NDList> model = ZooModelTest.byName(NDList.class, NDList.class).build().loadModel()) {
            return new BundledFolder(model.getModelPath());
        }
    }

    @Override
    public void close() {
        codec.close();
        manager.close();
    }
}
