package ai.djl.xlstm.zoo;

import ai.djl.repository.zoo.ModelLoader;
import ai.djl.repository.zoo.ModelZoo;

/**
 * Run in a fresh JVM by {@link ZooDiscoveryTest}: creates the zoo through its provider before
 * anything else touches DJL's {@code ModelZoo} class, whose initializer creates the zoo again.
 */
final class ZooBeforeModelZoo {

    private ZooBeforeModelZoo() {}

    public static void main(String[] args) {
        ModelZoo zoo = new XLstmZooProvider().getModelZoo();
        StringBuilder names = new StringBuilder();
        for (ModelLoader loader : zoo.getModelLoaders()) {
            names.append(loader.getArtifactId()).append(' ');
        }
        System.out.println("models " + names.toString().trim());
        System.out.println("registered " + (ModelZoo.getModelZoo(XLstmModelZoo.GROUP_ID) != null));
    }
}
