package ai.djl.xlstm.zoo;

import ai.djl.repository.zoo.ModelZoo;
import ai.djl.repository.zoo.ZooProvider;

/** Registers the {@link XLstmModelZoo} (group id {@code ai.djl.xlstm}) with DJL's service loader. */
public class XLstmZooProvider implements ZooProvider {

    /** {@inheritDoc} */
    @Override
    public ModelZoo getModelZoo() {
        return new XLstmModelZoo();
    }
}
