package ai.djl.xlstm.zoo;

import ai.djl.repository.zoo.ModelLoader;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ModelZoo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
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
 * with DJL's progress bar, when the machine is online; offline, such a model not yet in the cache
 * is a {@link ModelNotFoundException}, so that a search by application alone moves on.
 *
 * <p>The models are listed in the catalog's order, the bundled {@code xlstm-austen-small} first: a
 * search by application alone ({@code optApplication(Application.NLP.TEXT_GENERATION)} without a
 * name) loads it. Every model's artifacts can be listed offline from the moment the zoo exists
 * ({@code loader.getMrl().listArtifacts()}).
 */
public final class XLstmModelZoo extends ModelZoo {

    /** The group id of this zoo. */
    public static final String GROUP_ID = "ai.djl.xlstm";

    /** DJL's parser of {@code djl://} URLs, which calls {@link #getModelLoader(String)}. */
    private static final String DJL_URL_PARSER = "ai.djl.repository.RepositoryFactoryImpl$DjlRepositoryFactory";

    private final ZooCatalog catalog;
    private final List<ModelLoader> loaders;

    /** Created by DJL (through {@link XLstmZooProvider}) while {@code ModelZoo} initializes. */
    XLstmModelZoo() {
        catalog = ZooCatalog.load();
        List<ModelLoader> list = new ArrayList<>();
        for (ZooCatalog.Entry entry : catalog.entries()) {
            XLstmModelLoader loader = new XLstmModelLoader(ZooCatalog.mrl(entry), catalog, entry);
            addModel(loader);
            list.add(loader);
        }
        loaders = Collections.unmodifiableList(list);
        catalog.describeAll();
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
     * <p>In the catalog's order, the bundled {@code xlstm-austen-small} first: DJL tries the loaders
     * of a search in this order.
     */
    @Override
    public Collection<ModelLoader> getModelLoaders() {
        return loaders;
    }

    /**
     * {@inheritDoc}
     *
     * <p>DJL calls this for a {@code djl://ai.djl.xlstm/NAME} URL before it reads the model's
     * metadata from the cache, so the metadata is written here. An unknown name gives null, except
     * to DJL's {@code djl://} URL parser, which gets an {@link IllegalArgumentException} listing the
     * zoo's models (instead of DJL's "Invalid djl URL").
     */
    @Override
    public ModelLoader getModelLoader(String name) {
        ModelLoader loader = super.getModelLoader(name);
        if (loader == null) {
            if (DJL_URL_PARSER.equals(StackWalker.getInstance().walk(frames -> frames
                    .skip(1).findFirst().map(StackWalker.StackFrame::getClassName).orElse(null)))) {
                throw new IllegalArgumentException("djl://" + GROUP_ID + "/" + name + ": " + catalog.unknownName(name));
            }
            return null;
        }
        try {
            catalog.publish(catalog.entry(name));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot register the xLSTM model " + name + " in the DJL cache", e);
        } catch (ModelNotFoundException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        return loader;
    }
}
