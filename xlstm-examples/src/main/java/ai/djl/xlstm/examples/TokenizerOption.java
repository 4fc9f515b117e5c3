package ai.djl.xlstm.examples;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/**
 * The {@code --tokenizer} option of the commands that load a model folder (a picocli mixin): a
 * Hugging Face {@code tokenizer.json} that replaces the folder's.
 */
final class TokenizerOption {

    @Option(names = "--tokenizer", paramLabel = "tokenizer.json", description = "the tokenizer (default: the model folder's tokenizer.json)")
    private Path path;

    /** The tokenizer given, or null for the model folder's. */
    Path path() {
        return path;
    }
}
