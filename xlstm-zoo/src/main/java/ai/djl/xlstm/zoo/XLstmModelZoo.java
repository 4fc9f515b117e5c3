package ai.djl.xlstm.zoo;

import ai.djl.Application;
import ai.djl.repository.MRL;
import ai.djl.repository.RemoteRepository;
import ai.djl.repository.zoo.ModelLoader;
import ai.djl.repository.zoo.ModelZoo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Set;

/**
 * The xLSTM model zoo, group id {@code ai.djl.xlstm}: the models of {@code models.json} beside this
 * class, loadable by name with {@code Criteria.builder().optGroupId("ai.djl.xlstm")
 * .optArtifactId(NAME)} or {@code optModelUrls("djl://ai.djl.xlstm/NAME")}.
 *
 * <p>Bundled models travel inside this jar and load offline; before DJL looks a model up, the zoo
 * writes the model's {@code metadata.json} into the DJL cache ({@link ZooCatalog}), so that DJL's
 * own repository code copies the files from the jar into the cache (checking each file's SHA-1)
 * and loads them as it would a download. Models on Hugging Face download from there the same way,
 * with DJL's progress bar, when the machine is online.
 */
public final class XLstmModelZoo extends ModelZoo {

    /** The group id of this zoo. */
    public static final String GROUP_ID = "ai.djl.xlstm";

    /** The repository whose cache layout {@code djl://} URLs use; nothing is fetched from it. */
    static final RemoteRepository REPOSITORY = new RemoteRepository("xlstm", DJL_REPO_URL);

    private final ZooCatalog catalog;

    XLstmModelZoo() {
        catalog = ZooCatalog.load();
        for (ZooCatalog.Entry entry : catalog.entries()) {
            MRL mrl = REPOSITORY.model(Application.NLP.TEXT_GENERATION, GROUP_ID, entry.name(), entry.version());
            addModel(new XLstmModelLoader(mrl, catalog, entry));
        }
    }

    /** {@inheritDoc} */
    @Override
    public String getGroupId() {
        return GROUP_ID;
    }

    /** {@inheritDoc} */
    @Override
    public Set<String> getSupportedEngines() {
        return Set.of("PyTorch");
    }

    /**
     * {@inheritDoc}
     *
     * <p>DJL calls this for a {@code djl://ai.djl.xlstm/NAME} URL before it reads the model's
     * metadata from the cache, so the metadata is written here.
     */
    @Override
    public ModelLoader getModelLoader(String name) {
        ModelLoader loader = super.getModelLoader(name);
        if (loader != null) {
            try {
                catalog.publish(catalog.entry(name));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot register the xLSTM model " + name + " in the DJL cache", e);
            }
        }
        return loader;
    }
}
