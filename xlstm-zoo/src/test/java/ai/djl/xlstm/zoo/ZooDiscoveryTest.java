package ai.djl.xlstm.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Application;
import ai.djl.inference.Predictor;
import ai.djl.repository.Artifact;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelLoader;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ModelZoo;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.util.Utils;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** How a DJL user finds the zoo's models: by name, by URL, by application, by listing. */
class ZooDiscoveryTest {

    /**
     * Creating the zoo before DJL's {@code ModelZoo} class is initialized (whose initializer
     * creates it again) works; before, a field of the zoo class was still null then and DJL's
     * {@code ModelZoo} failed to initialize for the whole JVM.
     */
    @Test
    void theZooCanBeCreatedBeforeDjlsModelZoo(@TempDir Path cache) throws Exception {
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "-Dai.djl.offline=true", "-DDJL_CACHE_DIR=" + cache,
                ZooBeforeModelZoo.class.getName());
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(child.waitFor(120, TimeUnit.SECONDS), out);
        assertEquals(0, child.exitValue(), out);
        assertTrue(out.contains("models xlstm-austen-small xlstm-austen-tiny xlstm-7b\nregistered true"), out);
    }

    /** Issue 14, item 7: an unknown djl:// name lists the zoo's models; before: "Invalid djl URL". */
    @Test
    void anUnknownDjlUrlNameListsTheZoosModels() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Criteria.builder()
                .setTypes(String.class, String.class).optModelUrls("djl://ai.djl.xlstm/xlstm-austen-smal").build());
        assertTrue(e.getMessage().contains("'xlstm-austen-smal'")
                && e.getMessage().contains("xlstm-austen-small, xlstm-austen-tiny, xlstm-7b"), e.getMessage());
        // other callers get ModelZoo's plain answer
        assertNull(ModelZoo.getModelZoo(XLstmModelZoo.GROUP_ID).getModelLoader("xlstm-austen-smal"));
    }

    /**
     * Issue 14, item 9: a search by application alone tries the zoo's models in the catalog's
     * order and loads the bundled default; before, it tried xlstm-7b first and stopped at its
     * offline IOException.
     */
    @Test
    void aSearchByApplicationAloneLoadsTheBundledDefault() throws Exception {
        assertTrue(Utils.isOfflineMode(), "the build runs offline");
        List<String> names = ModelZoo.getModelZoo(XLstmModelZoo.GROUP_ID).getModelLoaders().stream()
                .map(ModelLoader::getArtifactId).toList();
        assertEquals(List.of("xlstm-austen-small", "xlstm-austen-tiny", "xlstm-7b"), names);
        try (ZooModel<String, String> model = Criteria.builder().setTypes(String.class, String.class)
                .optApplication(Application.NLP.TEXT_GENERATION).optArgument("max_new_tokens", 5).build().loadModel();
                Predictor<String, String> p = model.newPredictor()) {
            assertEquals("xlstm-austen-small", model.getName());
            assertFalse(p.predict(ZooModelTest.PROMPT).isBlank());
        }
    }

    /** Issue 14, item 9: offline, a Hugging Face model not in the cache is not found (DJL moves on). */
    @Test
    void offlineAHuggingFaceModelNotInTheCacheIsNotFound() throws Exception {
        assertTrue(Utils.isOfflineMode(), "the build runs offline");
        ZooCatalog catalog = ZooCatalog.load();
        ZooCatalog.Entry entry = catalog.entry("xlstm-7b");
        assumeTrue(!Files.isDirectory(ZooCatalog.cacheFolder(entry)), "xlstm-7b is not in this build's DJL cache");
        ModelNotFoundException e = assertThrows(ModelNotFoundException.class, () -> catalog.publish(entry));
        assertTrue(e.getMessage().contains("ai.djl.offline"), e.getMessage());
        Criteria<String, String> byName = Criteria.builder().setTypes(String.class, String.class)
                .optGroupId(XLstmModelZoo.GROUP_ID).optArtifactId("xlstm-7b").build();
        e = assertThrows(ModelNotFoundException.class, byName::loadModel);
        assertTrue(e.getCause() != null && e.getCause().getMessage().contains("xlstm-7b"), String.valueOf(e.getCause()));
    }

    /**
     * Issue 14, item 8: from an empty DJL cache, offline, every model's artifacts list as soon as
     * the zoo exists; before, listing asked DJL's server (UnknownHostException) and the loaders'
     * descriptions said "Failed load metadata.".
     */
    @Test
    void everyModelsArtifactsListOfflineFromAnEmptyCache(@TempDir Path cache) throws Exception {
        assumeTrue(System.getenv("DJL_CACHE_DIR") == null, "DJL reads the environment's DJL_CACHE_DIR first");
        assertTrue(Utils.isOfflineMode(), "the build runs offline");
        String previous = System.getProperty("DJL_CACHE_DIR");
        System.setProperty("DJL_CACHE_DIR", cache.toString());
        try {
            assertEquals(cache, Utils.getCacheDir());
            XLstmModelZoo zoo = new XLstmModelZoo();
            ZooCatalog catalog = ZooCatalog.load();
            for (ModelLoader loader : zoo.getModelLoaders()) {
                ZooCatalog.Entry entry = catalog.entry(loader.getArtifactId());
                List<Artifact> artifacts = loader.getMrl().listArtifacts();
                assertEquals(1, artifacts.size(), entry.name());
                Artifact artifact = artifacts.get(0);
                assertEquals(entry.version(), artifact.getVersion(), entry.name());
                Map<String, Artifact.Item> files = artifact.getFiles();
                if (entry.bundled() != null) {
                    assertEquals(entry.bundled().keySet(), files.keySet(), entry.name());
                    for (Map.Entry<String, String> f : entry.bundled().entrySet()) {
                        assertEquals(f.getValue(), files.get(f.getKey()).getSha1Hash(), entry.name() + "/" + f.getKey());
                    }
                } else {
                    assertTrue(files.keySet().containsAll(entry.files()) && files.containsKey("model.safetensors.index.json"),
                            entry.name() + ": " + files.keySet());
                }
                assertFalse(loader.toString().contains("Failed load metadata"), loader.toString());
                assertTrue(Files.isRegularFile(ZooCatalog.cacheFolder(entry).resolveSibling("metadata.json")));
            }
            // the bundled default loads from that cache
            try (ZooModel<String, String> model = Criteria.builder().setTypes(String.class, String.class)
                    .optModelZoo(zoo).optArtifactId(ZooModelTest.NAME).optArgument("max_new_tokens", 3).build()
                    .loadModel()) {
                assertTrue(model.getModelPath().startsWith(cache), model.getModelPath().toString());
            }
        } finally {
            restore("DJL_CACHE_DIR", previous);
        }
    }

    /**
     * A Hugging Face model downloaded days ago: the zoo dates its metadata today, so that DJL,
     * online, reads it from the cache instead of asking its own server (which has none of ours);
     * before, listing or loading such a model online failed a day after the download.
     */
    @Test
    void aDownloadedModelsMetadataIsDatedTodaySoDjlDoesNotAskItsServer(@TempDir Path cache) throws Exception {
        assumeTrue(System.getenv("DJL_CACHE_DIR") == null && System.getenv("DJL_OFFLINE") == null,
                "DJL reads the environment first");
        String previousCache = System.getProperty("DJL_CACHE_DIR");
        String previousOffline = System.getProperty("ai.djl.offline");
        System.setProperty("DJL_CACHE_DIR", cache.toString());
        try {
            ZooCatalog.Entry entry = ZooCatalog.load().entry("xlstm-7b");
            Path folder = ZooCatalog.cacheFolder(entry);
            Files.createDirectories(folder); // as a finished download leaves it
            Path metadata = folder.resolveSibling("metadata.json");
            Files.writeString(metadata, "{\"metadataVersion\": \"0.2\", \"resourceType\": \"model\","
                    + " \"application\": \"nlp/text_generation\", \"groupId\": \"ai.djl.xlstm\","
                    + " \"artifactId\": \"xlstm-7b\", \"name\": \"xlstm-7b\","
                    + " \"lastUpdated\": \"2020-01-01T00:00:00.000Z\", \"artifacts\": [{\"version\": \""
                    + entry.version() + "\", \"name\": \"xlstm-7b\", \"files\": {\"model-00001-of-00002.safetensors\":"
                    + " {\"uri\": \"https://example.invalid/a\", \"name\": \"model-00001-of-00002.safetensors\"}}}]}");
            XLstmModelZoo zoo = new XLstmModelZoo();
            System.setProperty("ai.djl.offline", "false");
            ModelLoader loader = zoo.getModelLoaders().stream()
                    .filter(l -> l.getArtifactId().equals("xlstm-7b")).findFirst().orElseThrow();
            List<Artifact> artifacts = loader.getMrl().listArtifacts();
            assertEquals(List.of("model-00001-of-00002.safetensors"), List.copyOf(artifacts.get(0).getFiles().keySet()),
                    "the downloaded model's metadata, kept");
            assertTrue(System.currentTimeMillis() - loader.getMrl().getRepository().locate(loader.getMrl())
                    .getLastUpdated().getTime() < 60_000, "dated today");
        } finally {
            restore("DJL_CACHE_DIR", previousCache);
            restore("ai.djl.offline", previousOffline);
        }
    }

    private static void restore(String property, String value) {
        if (value == null) {
            System.clearProperty(property);
        } else {
            System.setProperty(property, value);
        }
    }
}
