package ai.djl.xlstm.zoo;

import ai.djl.MalformedModelException;
import ai.djl.repository.MRL;
import ai.djl.repository.zoo.BaseModelLoader;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.util.Progress;

import java.io.IOException;
import java.nio.file.Path;

/**
 * DJL's model loader for one catalog entry, which first makes sure DJL's cache knows the entry: the
 * whole metadata before a load or download, what can be written offline before other questions.
 */
final class XLstmModelLoader extends BaseModelLoader {

    private final ZooCatalog catalog;
    private final ZooCatalog.Entry entry;

    XLstmModelLoader(MRL mrl, ZooCatalog catalog, ZooCatalog.Entry entry) {
        super(mrl);
        this.catalog = catalog;
        this.entry = entry;
    }

    /** {@inheritDoc} */
    @Override
    public <I, O> ZooModel<I, O> loadModel(Criteria<I, O> criteria)
            throws IOException, ModelNotFoundException, MalformedModelException {
        Class<I> in = criteria.getInputClass();
        Class<O> out = criteria.getOutputClass();
        Object named = criteria.getArguments() == null ? null : criteria.getArguments().get("translatorFactory");
        boolean ours = criteria.getTranslatorFactory() instanceof XLstmTranslatorFactory
                || criteria.getTranslatorFactory() == null
                        && (named == null || XLstmTranslatorFactory.class.getName().equals(named));
        if (ours && !XLstmTranslatorFactory.translates(in, out)) {
            // before DJL copies or downloads anything, and naming our pairs rather than DJL's default's
            throw new ModelNotFoundException("the xLSTM model " + entry.name() + " cannot load: "
                    + XLstmTranslatorFactory.unsupported(in, out));
        }
        catalog.publish(entry);
        try {
            return super.loadModel(criteria);
        } catch (IllegalArgumentException e) {
            // a damaged file in DJL's cache (copied once, never checked again by DJL): say how to renew it
            Path folder = ZooCatalog.cacheFolder(entry).toAbsolutePath().normalize();
            if (e.getMessage() != null && e.getMessage().contains(folder.toString())) {
                throw new IllegalArgumentException(e.getMessage() + "\n(this is the copy of the zoo model "
                        + entry.name() + " in DJL's cache: delete the folder " + folder + " and load the model again"
                        + " for a fresh copy)", e);
            }
            throw e;
        }
    }

    /** {@inheritDoc} */
    @Override
    public <I, O> void downloadModel(Criteria<I, O> criteria, Progress progress)
            throws IOException, ModelNotFoundException {
        catalog.publish(entry);
        super.downloadModel(criteria, progress);
    }

    /** {@inheritDoc} */
    @Override
    public <I, O> boolean isDownloaded(Criteria<I, O> criteria) throws IOException, ModelNotFoundException {
        catalog.describe(entry);
        return super.isDownloaded(criteria);
    }
}
