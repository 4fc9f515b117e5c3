package ai.djl.xlstm.zoo;

import ai.djl.Application;
import ai.djl.repository.Artifact;
import ai.djl.repository.MRL;
import ai.djl.repository.Metadata;
import ai.djl.repository.RemoteRepository;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.util.JsonUtils;
import ai.djl.util.Utils;
import ai.djl.xlstm.internal.AtomicFiles;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import com.google.gson.reflect.TypeToken;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLConnection;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The zoo's models, as {@code models.json} beside this class lists them, and their registration in
 * DJL's cache.
 *
 * <p>A <b>bundled</b> model's files are resources of this jar under {@code models/NAME/}; the
 * catalog records each file's SHA-1, which DJL checks as it copies the file into its cache. A
 * <b>Hugging Face</b> model names a repository; its shards are listed by the repository's {@code
 * model.safetensors.index.json}, fetched once from the Hugging Face endpoint ({@code
 * https://huggingface.co}, or the system property / environment variable {@value #ENDPOINT}).
 *
 * <p>{@link #publish} writes the model's {@code metadata.json} where DJL's remote repository looks
 * for it, so {@code djl://} URLs and group-id lookups find the model without asking DJL's server.
 * {@link #describe} writes what it can without the network, when the zoo is created, so that
 * listing a model's artifacts never asks DJL's server either: a bundled model's whole metadata; for
 * a Hugging Face model not downloaded yet, its known files without the weight shards, which only
 * {@link #publish} (before a download) completes.
 */
final class ZooCatalog {

    /** Overrides the Hugging Face endpoint (as huggingface_hub's variable of the same name). */
    static final String ENDPOINT = "HF_ENDPOINT";

    private static final Logger logger = LoggerFactory.getLogger(ZooCatalog.class);

    /**
     * The repository whose cache layout the zoo's models use (as {@code djl://} URLs do); nothing
     * is fetched from it. Its address is DJL's ({@code ModelZoo.DJL_REPO_URL}), read here rather
     * than from {@code ModelZoo}: DJL creates this zoo while {@code ModelZoo} initializes, and a
     * field of a {@code ModelZoo} subclass would still be null then.
     */
    static final RemoteRepository REPOSITORY = new RemoteRepository("xlstm",
            URI.create(Utils.getEnvOrSystemProperty("DJL_REPO_URL", "https://mlrepo.djl.ai/")));
    private static final String RESOURCES = "/ai/djl/xlstm/zoo/";

    /** What every zoo artifact tells DJL: our block and translator factories, no DJL .params file. */
    static final Map<String, Object> ARGUMENTS = Map.of(
            "blockFactory", XLstmBlockFactory.class.getName(),
            "translatorFactory", XLstmTranslatorFactory.class.getName());
    static final Map<String, String> OPTIONS = Map.of("hasParameter", "false");
    private static final String INDEX = "model.safetensors.index.json";

    /**
     * One model of the catalog.
     *
     * @param name the artifact id
     * @param version the artifact version
     * @param description one line for listings
     * @param bundled for a bundled model, each file name and its SHA-1 (null otherwise)
     * @param huggingFace for a Hugging Face model, its repository id ({@code owner/name})
     * @param revision the Hugging Face revision (branch, tag or commit)
     * @param files for a Hugging Face model, the files it needs besides the weights
     */
    record Entry(String name, String version, String description, Map<String, String> bundled,
            String huggingFace, String revision, List<String> files) {

        Entry {
            Objects.requireNonNull(name, "models.json: an entry has no name");
            Objects.requireNonNull(version, "models.json: " + name + " has no version");
            if ((bundled == null) == (huggingFace == null)) {
                throw new IllegalArgumentException(
                        "models.json: " + name + " must be either bundled or on Hugging Face");
            }
        }
    }

    private record Catalog(List<Entry> models) {}

    private final Map<String, Entry> entries;
    /** The metadata files complete in this JVM (by path: the DJL cache may move, as tests move it). */
    private final Set<Path> published = ConcurrentHashMap.newKeySet();

    private ZooCatalog(Map<String, Entry> entries) {
        this.entries = entries;
    }

    /** The catalog of this jar. */
    static ZooCatalog load() {
        try (InputStream in = ZooCatalog.class.getResourceAsStream(RESOURCES + "models.json")) {
            if (in == null) {
                throw new IllegalStateException("models.json is missing from the xlstm-zoo jar");
            }
            Catalog c = new Gson().fromJson(new InputStreamReader(in, StandardCharsets.UTF_8), Catalog.class);
            Map<String, Entry> map = new LinkedHashMap<>();
            for (Entry e : c.models()) {
                map.put(e.name(), e);
            }
            return new ZooCatalog(map);
        } catch (IOException | JsonParseException e) {
            throw new IllegalStateException("cannot read the xLSTM zoo's models.json", e);
        }
    }

    List<Entry> entries() {
        return List.copyOf(entries.values());
    }

    Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException(unknownName(name));
        }
        return e;
    }

    /** The message for a model name the zoo lacks: the zoo's names, the default first. */
    String unknownName(String name) {
        return "the xLSTM zoo (group id " + XLstmModelZoo.GROUP_ID + ") has no model named '" + name
                + "'; its models are " + String.join(", ", entries.keySet());
    }

    /** The classpath URL of a bundled model's file. */
    static URL resource(Entry entry, String file) {
        URL url = ZooCatalog.class.getResource(RESOURCES + "models/" + entry.name() + "/" + file);
        if (url == null) {
            throw new IllegalStateException("bundled model " + entry.name() + " lacks its file " + file);
        }
        return url;
    }

    /**
     * Writes the metadata of {@code entry} into DJL's cache (once per JVM; a fresh date each time,
     * so DJL does not look for a newer one online). For a Hugging Face model not downloaded yet,
     * this fetches the model's weight index first, which needs the network unless the endpoint is a
     * local {@code file:} folder.
     *
     * @throws ModelNotFoundException for a Hugging Face model not downloaded yet while {@code
     *     ai.djl.offline} is set (so that a search by application moves on to the next model)
     */
    void publish(Entry entry) throws IOException, ModelNotFoundException {
        Path file = metadataFile(entry);
        if (!published.add(file)) {
            return;
        }
        try {
            if (entry.bundled() != null) {
                write(file, metadata(entry, bundledFiles(entry)));
            } else if (Files.isRegularFile(file) && isDownloaded(file.getParent(), entry)) {
                refresh(file); // a Hugging Face model already in the cache: its metadata stays as downloaded
            } else {
                write(file, metadata(entry, huggingFaceFiles(entry)));
            }
        } catch (IOException | ModelNotFoundException | RuntimeException e) {
            published.remove(file);
            throw e;
        }
    }

    /**
     * Writes what DJL needs to list {@code entry}'s artifacts, without the network: a bundled
     * model's metadata (as {@link #publish}); a Hugging Face model's metadata refreshed, or, when
     * there is none, its known files without the weight shards ({@link #publish} completes them
     * before any download).
     */
    void describe(Entry entry) throws IOException {
        Path file = metadataFile(entry);
        if (published.contains(file)) {
            return;
        }
        if (entry.bundled() != null) {
            try {
                publish(entry);
            } catch (ModelNotFoundException e) {
                throw new AssertionError("a bundled model needs no network", e);
            }
        } else if (Files.isRegularFile(file)) {
            refresh(file);
        } else {
            write(file, metadata(entry, listedFiles(entry, huggingFaceBase(entry))));
        }
    }

    /** The DJL resource name of {@code entry}. */
    static MRL mrl(Entry entry) {
        return REPOSITORY.model(Application.NLP.TEXT_GENERATION, XLstmModelZoo.GROUP_ID, entry.name(), entry.version());
    }

    /**
     * {@link #describe} for every entry; a failure (a read-only cache) is logged, not thrown: DJL
     * creates zoos in a static initializer, which must not fail.
     */
    void describeAll() {
        for (Entry entry : entries.values()) {
            try {
                describe(entry);
            } catch (IOException | RuntimeException e) {
                logger.warn("cannot write the metadata of the xLSTM model {} into DJL's cache: {}",
                        entry.name(), e.toString());
            }
        }
    }

    /** Where DJL's remote repository reads the metadata of {@code entry}. */
    private static Path metadataFile(Entry entry) throws IOException {
        return REPOSITORY.getCacheDirectory().resolve(mrl(entry).toURI().getPath()).resolve("metadata.json");
    }

    private static void write(Path file, Metadata metadata) throws IOException {
        AtomicFiles.writeString(file, JsonUtils.GSON_PRETTY.toJson(metadata));
    }

    /**
     * Dates the metadata in {@code file} today: DJL's remote repository asks its own server for
     * metadata older than a day (the server has none of ours) unless {@code ai.djl.offline} is set.
     */
    private static void refresh(Path file) throws IOException {
        Metadata metadata;
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            metadata = JsonUtils.GSON_PRETTY.fromJson(reader, Metadata.class);
        } catch (JsonParseException e) {
            throw new IOException(file + " is not DJL metadata (delete it to have it written again): "
                    + e.getMessage(), e);
        }
        if (metadata == null || metadata.getArtifacts() == null) {
            throw new IOException(file + " is not DJL metadata (delete it to have it written again)");
        }
        metadata.setLastUpdated(new Date());
        write(file, metadata);
    }

    /** The folder of DJL's cache that holds (or will hold) the files of {@code entry}. */
    static Path cacheFolder(Entry entry) throws IOException {
        return metadataFile(entry).resolveSibling(entry.version());
    }

    private static boolean isDownloaded(Path metadataDir, Entry entry) {
        return Files.isDirectory(metadataDir.resolve(entry.version()));
    }

    private static Metadata metadata(Entry entry, Map<String, Artifact.Item> files) {
        Artifact artifact = new Artifact();
        artifact.setVersion(entry.version());
        artifact.setName(entry.name());
        artifact.setArguments(new LinkedHashMap<>(ARGUMENTS));
        artifact.setOptions(new LinkedHashMap<>(OPTIONS));
        artifact.setFiles(files);
        Metadata metadata = new Metadata();
        metadata.setMetadataVersion("0.2");
        metadata.setResourceType("model");
        metadata.setApplication(Application.NLP.TEXT_GENERATION);
        metadata.setGroupId(XLstmModelZoo.GROUP_ID);
        metadata.setArtifactId(entry.name());
        metadata.setName(entry.name());
        metadata.setDescription(entry.description());
        metadata.setLastUpdated(new Date());
        metadata.setArtifacts(List.of(artifact));
        return metadata;
    }

    private static Map<String, Artifact.Item> bundledFiles(Entry entry) {
        Map<String, Artifact.Item> files = new LinkedHashMap<>();
        for (Map.Entry<String, String> f : entry.bundled().entrySet()) {
            URL url = resource(entry, f.getKey());
            try {
                files.put(f.getKey(), item(url.toURI().toString(), f.getKey(), f.getValue()));
            } catch (URISyntaxException e) {
                throw new IllegalStateException("bad resource URL " + url, e);
            }
        }
        return files;
    }

    /** The endpoint's files of a Hugging Face model: the listed ones, then the index's shards. */
    private static Map<String, Artifact.Item> huggingFaceFiles(Entry entry)
            throws IOException, ModelNotFoundException {
        String base = huggingFaceBase(entry);
        if (Utils.isOfflineMode() && !base.startsWith("file:")) {
            throw new ModelNotFoundException("the xLSTM model " + entry.name() + " (Hugging Face "
                    + entry.huggingFace() + ") is not in the DJL cache and ai.djl.offline is set: load it once"
                    + " online, or download the repository and load the folder with Criteria.optModelPath");
        }
        Map<String, Artifact.Item> files = listedFiles(entry, base);
        Map<String, Object> json;
        try (Reader reader = new InputStreamReader(open(base + INDEX), StandardCharsets.UTF_8)) {
            json = new Gson().fromJson(reader, new TypeToken<Map<String, Object>>() {}.getType());
        } catch (JsonParseException e) {
            throw new IOException(base + INDEX + " is not a safetensors index: " + e.getMessage(), e);
        }
        if (json == null || !(json.get("weight_map") instanceof Map<?, ?> weightMap)) {
            throw new IOException(base + INDEX + " has no weight_map");
        }
        for (Object shard : new TreeSet<>(weightMap.values().stream().map(String::valueOf).toList())) {
            String name = (String) shard;
            if (name.contains("/") || name.contains("\\") || name.startsWith(".")) {
                throw new IOException(base + INDEX + " names a shard outside the model folder: " + name);
            }
            files.put(name, item(base + name, name, null));
        }
        logger.info("{}: {} files from {}", entry.name(), files.size(), base);
        return files;
    }

    /** A Hugging Face model's files that the catalog lists, and its weight index. */
    private static Map<String, Artifact.Item> listedFiles(Entry entry, String base) {
        Map<String, Artifact.Item> files = new LinkedHashMap<>();
        for (String f : entry.files()) {
            files.put(f, item(base + f, f, null));
        }
        files.put(INDEX, item(base + INDEX, INDEX, null));
        return files;
    }

    private static String huggingFaceBase(Entry entry) {
        return endpoint() + "/" + entry.huggingFace() + "/resolve/" + entry.revision() + "/";
    }

    static String endpoint() {
        String e = System.getProperty(ENDPOINT, System.getenv(ENDPOINT));
        if (e == null || e.isBlank()) {
            e = "https://huggingface.co";
        }
        return e.endsWith("/") ? e.substring(0, e.length() - 1) : e;
    }

    private static InputStream open(String url) throws IOException {
        URLConnection c = URI.create(url).toURL().openConnection();
        c.setConnectTimeout(30_000);
        c.setReadTimeout(60_000);
        return c.getInputStream();
    }

    private static Artifact.Item item(String uri, String name, String sha1) {
        Artifact.Item item = new Artifact.Item();
        item.setUri(uri);
        item.setName(name);
        item.setType("file");
        item.setSha1Hash(sha1 == null ? null : sha1.toLowerCase(Locale.ROOT));
        return item;
    }
}
