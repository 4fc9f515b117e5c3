package ai.djl.xlstm.training;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import ai.djl.xlstm.internal.TensorOps;
import ai.djl.xlstm.generate.TextCodec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * Fixed-length windows over a tokenized corpus for next-token training: window {@code i} covers
 * tokens {@code [i*T, i*T + T]}; its input is the first T tokens and its labels the last T (the
 * inputs shifted by one). Documents are joined with an end-of-text token when the tokenizer has
 * one.
 *
 * <p>{@link #split} reads a file or a folder of {@code .txt} files, tokenizes each document with a
 * {@link TextCodec} (no truncation, no special tokens) and holds out the tail of every
 * document for validation, so that no validation text leaks into training.
 *
 * <p>The builder's sampling ({@code setSampling(batchSize, shuffle)}) is what DJL's own loops use
 * ({@code EasyTrain.fit}, {@code trainer.iterateDataset}); without it the windows come one at a
 * time, in order. A {@link TrainingSession} ignores it: it draws batches of its settings' {@code
 * batchSize} in its own seeded order (each epoch a permutation drawn from the settings' seed and
 * the epoch, the last incomplete batch dropped), which a resumed run continues exactly.
 */
public final class TokenWindowDataset extends RandomAccessDataset {

    private final long[] tokens;
    private final int sequenceLength;

    private TokenWindowDataset(Builder builder) {
        super(builder);
        this.tokens = builder.tokens;
        this.sequenceLength = builder.sequenceLength;
    }

    /**
     * The sequence length T.
     *
     * @return T
     */
    public int getSequenceLength() {
        return sequenceLength;
    }

    /**
     * The number of tokens in the corpus.
     *
     * @return the token count
     */
    public long tokenCount() {
        return tokens.length;
    }

    @Override
    public Record get(NDManager manager, long index) {
        int start = Math.toIntExact(index * sequenceLength);
        long[] input = Arrays.copyOfRange(tokens, start, start + sequenceLength);
        long[] target = Arrays.copyOfRange(tokens, start + 1, start + sequenceLength + 1);
        return new Record(new NDList(TensorOps.owned(manager, input)), new NDList(TensorOps.owned(manager, target)));
    }

    @Override
    protected long availableSize() {
        return (tokens.length - 1) / sequenceLength;
    }

    @Override
    public void prepare(Progress progress) {}

    /**
     * A builder over already tokenized text.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Tokenizes the corpus at {@code path} (a text file, or a folder whose {@code .txt} files are
     * the documents) and returns {@code [train, validation]} token streams: the validation stream is
     * the last {@code validationFraction} of every document, cut at a paragraph boundary (else a
     * line break, else a space), so that every book is represented in both and no validation text
     * is trained on.
     *
     * @param path a text file or a folder of {@code .txt} files
     * @param tokenizer the tokenizer
     * @param validationFraction the fraction of each document kept for validation
     * @return the train and validation token streams
     * @throws IOException if a file cannot be read
     */
    public static long[][] split(Path path, TextCodec tokenizer, double validationFraction)
            throws IOException {
        if (!Files.exists(path)) {
            throw new IllegalArgumentException("corpus not found: " + path);
        }
        if (validationFraction <= 0 || validationFraction >= 1) {
            throw new IllegalArgumentException("validation fraction must be in (0, 1), got " + validationFraction);
        }
        List<String> heads = new ArrayList<>();
        List<String> tails = new ArrayList<>();
        for (String doc : documents(path)) {
            int cut = cutPoint(doc, (int) Math.round(doc.length() * (1 - validationFraction)));
            heads.add(doc.substring(0, cut));
            tails.add(doc.substring(cut));
        }
        long eos = tokenizer.endOfText().orElse(-1);
        return new long[][] {tokenize(heads, tokenizer, eos), tokenize(tails, tokenizer, eos)};
    }

    /** The last paragraph break, else line break, else space, at or before {@code target} (else target). */
    static int cutPoint(String doc, int target) {
        int floor = target / 2; // never give validation more than about half of a document
        for (String separator : new String[] {"\n\n", "\n", " "}) {
            int at = doc.lastIndexOf(separator, target);
            if (at >= floor && at > 0) {
                return at + separator.length();
            }
        }
        return target;
    }

    static List<String> documents(Path path) throws IOException {
        List<String> documents = new ArrayList<>();
        for (Path f : documentFiles(path)) {
            documents.add(Files.readString(f, StandardCharsets.UTF_8));
        }
        return documents;
    }

    /** The files of the corpus at {@code path}, in the order {@link #split} reads them. */
    private static List<Path> documentFiles(Path path) throws IOException {
        if (!Files.isDirectory(path)) {
            return List.of(path);
        }
        List<Path> files;
        try (Stream<Path> list = Files.list(path)) {
            files = list.filter(p -> p.toString().endsWith(".txt")).sorted().toList();
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no .txt files in " + path);
        }
        return files;
    }

    /**
     * The SHA-256 (lower-case hex) of the corpus at {@code path} as {@link #split} reads it: of a
     * file, its bytes (what {@code sha256sum FILE} prints); of a folder, each {@code .txt} document
     * in order as its length (8 bytes, big-endian) then its bytes. The same text at another path has
     * the same hash.
     *
     * @param path a text file, or a folder of {@code .txt} documents
     * @return the hash, 64 lower-case hex digits
     * @throws IOException if a file cannot be read
     * @throws IllegalArgumentException if {@code path} does not exist, or a folder holds no {@code
     *     .txt} file
     */
    public static String corpusSha256(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new IllegalArgumentException("corpus not found: " + path);
        }
        java.security.MessageDigest sha;
        try {
            sha = java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
        boolean folder = Files.isDirectory(path);
        byte[] buffer = new byte[1 << 16];
        for (Path f : documentFiles(path)) {
            if (folder) {
                sha.update(java.nio.ByteBuffer.allocate(Long.BYTES).putLong(Files.size(f)).array());
            }
            try (java.io.InputStream in = Files.newInputStream(f)) {
                for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                    sha.update(buffer, 0, n);
                }
            }
        }
        return java.util.HexFormat.of().formatHex(sha.digest());
    }

    private static long[] tokenize(List<String> documents, TextCodec tokenizer, long eos) {
        List<long[]> parts = new ArrayList<>();
        int total = 0;
        for (String doc : documents) {
            for (String piece : doc.split("(?<=\n\n)")) { // tokenize paragraph by paragraph
                long[] ids = tokenizer.encode(piece);
                parts.add(ids);
                total += ids.length;
            }
            if (eos >= 0) {
                parts.add(new long[] {eos});
                total++;
            }
        }
        long[] out = new long[total];
        int pos = 0;
        for (long[] p : parts) {
            System.arraycopy(p, 0, out, pos, p.length);
            pos += p.length;
        }
        return out;
    }

    /** Builds a {@link TokenWindowDataset}. */
    public static final class Builder extends BaseBuilder<Builder> {

        private long[] tokens;
        private int sequenceLength;

        @Override
        protected Builder self() {
            return this;
        }

        /**
         * The token stream.
         *
         * @param tokens the token ids
         * @return this builder
         */
        public Builder setTokens(long[] tokens) {
            this.tokens = tokens;
            return this;
        }

        /**
         * The window length T (>= 2).
         *
         * @param sequenceLength T
         * @return this builder
         */
        public Builder setSequenceLength(int sequenceLength) {
            this.sequenceLength = sequenceLength;
            return this;
        }

        /**
         * Builds the dataset; without {@code setSampling} its windows come one at a time, in order.
         *
         * @return the dataset
         * @throws IllegalArgumentException if the window is shorter than 2 or the corpus holds
         *     fewer than one window
         */
        public TokenWindowDataset build() {
            if (sampler == null) {
                setSampling(1, false);
            }
            if (sequenceLength < 2) {
                throw new IllegalArgumentException("sequence length must be >= 2, got " + sequenceLength);
            }
            if (tokens == null || tokens.length < sequenceLength + 1) {
                throw new IllegalArgumentException(
                        "the corpus has " + (tokens == null ? 0 : tokens.length)
                                + " tokens, fewer than one window of " + (sequenceLength + 1));
            }
            return new TokenWindowDataset(this);
        }
    }
}
