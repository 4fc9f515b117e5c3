package ai.djl.xlstm.io;

import static ai.djl.xlstm.io.SafeTensorsHeader.MAX_HEADER_BYTES;
import static ai.djl.xlstm.io.SafeTensorsHeader.invalid;
import static ai.djl.xlstm.io.SafeTensorsHeader.invalidTensor;
import static ai.djl.xlstm.io.SafeTensorsHeader.parseJson;
import static ai.djl.xlstm.io.SafeTensorsHeader.requireStringMap;
import static ai.djl.xlstm.io.SafeTensorsHeader.requireUniqueKeys;

import ai.djl.xlstm.io.SafeTensors.TensorInfo;

import com.google.gson.JsonElement;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Shard discovery: which files of a checkpoint folder hold which tensors, from a {@code
 * model.safetensors.index.json} (its {@code weight_map} checked: unique names, shards inside the
 * folder that exist and hold the tensors listed), a {@code model.safetensors}, numbered shards
 * {@code model_N.safetensors}, or a single other {@code *.safetensors} file; a tensor in two shards
 * is refused. Only headers are read.
 */
final class CheckpointShards {

    private static final String INDEX_FILE = "model.safetensors.index.json";
    private static final String SINGLE_FILE = "model.safetensors";
    private static final String EXTENSION = ".safetensors";
    private static final Pattern NUMBERED_SHARD = Pattern.compile("model_(\\d{1,9})\\.safetensors");

    private CheckpointShards() {}

    /** The header entries of every tensor of a checkpoint folder (see {@link SafeTensors#readCheckpointHeader}). */
    static Map<String, TensorInfo> readCheckpointHeader(Path dir) throws IOException {
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        for (Map.Entry<Path, Collection<String>> shard : planCheckpoint(dir).entrySet()) {
            Map<String, TensorInfo> header = SafeTensorsHeader.read(shard.getKey()).tensors();
            for (String name : shard.getValue()) {
                out.put(name, header.get(name));
            }
        }
        return out;
    }

    /**
     * The file of a checkpoint folder that holds tensor {@code name}, found as {@link
     * SafeTensors#loadCheckpoint} finds it (to name it in a message).
     *
     * @throws IllegalArgumentException as {@link SafeTensors#loadCheckpoint}, or if no file holds the
     *     tensor
     */
    static Path fileHolding(Path dir, String name) throws IOException {
        for (Map.Entry<Path, Collection<String>> shard : planCheckpoint(dir).entrySet()) {
            if (shard.getValue().contains(name)) {
                return shard.getKey();
            }
        }
        throw invalid(dir, "no file of the checkpoint holds tensor '" + name + "'");
    }

    /** Lists the shards to load with the tensor names wanted from each, after checking them. */
    static Map<Path, Collection<String>> planCheckpoint(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(dir + ": not a checkpoint folder");
        }
        Path index = dir.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return planFromIndex(dir, index);
        }
        Map<Path, Collection<String>> plan = new LinkedHashMap<>();
        Map<String, Path> owners = new HashMap<>();
        for (Path shard : findShards(dir)) {
            Collection<String> names = SafeTensorsHeader.read(shard).tensors().keySet();
            for (String name : names) {
                Path owner = owners.putIfAbsent(name, shard);
                if (owner != null) {
                    throw invalid(
                            dir,
                            "tensor '" + name + "' appears in both " + owner.getFileName()
                                    + " and " + shard.getFileName());
                }
            }
            plan.put(shard, names);
        }
        return plan;
    }

    private static Map<Path, Collection<String>> planFromIndex(Path dir, Path index)
            throws IOException {
        if (Files.size(index) > MAX_HEADER_BYTES) {
            throw invalid(index, "index is larger than " + MAX_HEADER_BYTES + " bytes");
        }
        String json;
        try {
            json = Files.readString(index, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw invalid(index, "not UTF-8 JSON (a Hugging Face " + INDEX_FILE + " is UTF-8 text)");
        }
        JsonElement root = parseJson(json, index);
        JsonElement weightMap =
                root.isJsonObject() ? root.getAsJsonObject().get("weight_map") : null;
        if (weightMap == null) {
            throw invalid(index, "index has no weight_map object");
        }
        requireUniqueKeys(json, index, CheckpointShards::duplicateInIndex);
        Path folder = dir.toAbsolutePath().normalize();
        Map<Path, Collection<String>> plan = new LinkedHashMap<>();
        Map<String, String> shardByName = requireStringMap(weightMap, "weight_map", index);
        for (Map.Entry<String, String> entry : shardByName.entrySet()) {
            Path shard = folder.resolve(entry.getValue()).normalize();
            if (!shard.startsWith(folder) || shard.equals(folder)) {
                throw invalidTensor(
                        index,
                        entry.getKey(),
                        "is mapped to shard '" + entry.getValue() + "' outside the folder");
            }
            if (!Files.isRegularFile(shard)) {
                throw invalidTensor(
                        index,
                        entry.getKey(),
                        "is mapped to shard '" + entry.getValue() + "', which "
                                + (Files.exists(shard) ? "is not a regular file (a folder, pipe or device)"
                                        : "does not exist"));
            }
            plan.computeIfAbsent(shard, s -> new ArrayList<>()).add(entry.getKey());
        }
        for (Map.Entry<Path, Collection<String>> shard : plan.entrySet()) {
            Map<String, TensorInfo> header = SafeTensorsHeader.read(shard.getKey()).tensors();
            for (String name : shard.getValue()) {
                if (!header.containsKey(name)) {
                    throw invalidTensor(
                            shard.getKey(), name, "listed in " + INDEX_FILE + " is missing");
                }
            }
        }
        return plan;
    }

    private static List<Path> findShards(Path dir) throws IOException {
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return List.of(single);
        }
        List<Path> candidates;
        try (Stream<Path> files = Files.list(dir)) {
            candidates =
                    files.filter(p -> p.getFileName().toString().endsWith(EXTENSION))
                            .filter(Files::isRegularFile)
                            .sorted()
                            .toList();
        }
        List<Path> numbered =
                candidates.stream()
                        .filter(p -> shardNumber(p) >= 0)
                        .sorted(Comparator.comparingInt(CheckpointShards::shardNumber))
                        .toList();
        if (!numbered.isEmpty()) {
            return numbered;
        }
        if (candidates.size() == 1) {
            return candidates;
        }
        String wanted =
                INDEX_FILE + ", " + SINGLE_FILE + ", model_N" + EXTENSION
                        + " shards or a single *" + EXTENSION + " file";
        if (candidates.isEmpty()) {
            throw invalid(dir, "no checkpoint found; looked for " + wanted);
        }
        List<Path> names = candidates.stream().map(Path::getFileName).toList();
        throw invalid(dir, "cannot choose among " + names + "; expected " + wanted);
    }

    /** Returns N for a file named {@code model_N.safetensors}, or -1. */
    private static int shardNumber(Path file) {
        Matcher matcher = NUMBERED_SHARD.matcher(file.getFileName().toString());
        return matcher.matches() ? Integer.parseInt(matcher.group(1)) : -1;
    }

    /** Names a key of a checkpoint index that appears twice (see {@link SafeTensorsHeader#requireUniqueKeys}). */
    private static String duplicateInIndex(List<String> path) {
        if (path.size() == 2 && "weight_map".equals(path.get(0))) {
            return "tensor '" + path.get(1) + "' appears twice in weight_map";
        }
        return "key '" + String.join(".", path) + "' appears twice";
    }
}
