package ai.djl.xlstm.zoo;

import ai.djl.MalformedModelException;
import ai.djl.repository.MRL;
import ai.djl.repository.zoo.BaseModelLoader;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;

import java.io.IOException;

/** DJL's model loader for one catalog entry, which first makes sure DJL's cache knows the entry. */
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
        catalog.publish(entry);
        return super.loadModel(criteria);
    }
}
