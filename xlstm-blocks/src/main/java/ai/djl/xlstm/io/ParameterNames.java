package ai.djl.xlstm.io;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Derives the upstream {@code state_dict} key of every parameter of a block tree.
 *
 * <p>Our blocks name their children and parameters after the upstream modules, so the key is the
 * path of names from the root, joined by dots. DJL prefixes each child name with its position
 * ({@code 01proj_up}); that prefix is dropped.
 */
public final class ParameterNames {

    private ParameterNames() {}

    /**
     * Every parameter under {@code root}, keyed by its upstream name, in block order.
     *
     * @param root the model or block
     * @return the parameters by upstream name
     */
    public static Map<String, Parameter> of(Block root) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        collect(root, "", out);
        return out;
    }

    private static void collect(Block block, String prefix, Map<String, Parameter> out) {
        for (Pair<String, Parameter> p : block.getDirectParameters()) {
            out.put(prefix + p.getKey(), p.getValue());
        }
        for (Pair<String, Block> child : block.getChildren()) {
            collect(child.getValue(), prefix + stripPosition(child.getKey()) + ".", out);
        }
    }

    /** {@code "01proj_up" -> "proj_up"}: DJL's child names start with their position. */
    static String stripPosition(String childName) {
        int i = 0;
        while (i < childName.length() && Character.isDigit(childName.charAt(i))) {
            i++;
        }
        return childName.substring(i);
    }
}
