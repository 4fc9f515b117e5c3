package ai.djl.xlstm.generate;

import java.nio.charset.StandardCharsets;
import java.util.OptionalLong;

/**
 * A byte-level test tokenizer: token {@code b} is the byte {@code b} (0-255), decoded as UTF-8 with
 * U+FFFD for incomplete characters, exactly as a byte-level BPE decodes a token that ends inside a
 * character. Ids from 256 up decode to nothing; {@code eot} is 256 when the vocabulary allows.
 */
final class ByteCodec implements TextCodec {

    private final int vocab;

    ByteCodec(int vocab) {
        this.vocab = vocab;
    }

    @Override
    public long[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        long[] ids = new long[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = bytes[i] & 0xFF;
        }
        return ids;
    }

    @Override
    public String decode(long[] ids) {
        byte[] bytes = new byte[ids.length];
        int n = 0;
        for (long id : ids) {
            if (id < 256) {
                bytes[n++] = (byte) id;
            }
        }
        return new String(bytes, 0, n, StandardCharsets.UTF_8);
    }

    @Override
    public int vocabularySize() {
        return vocab;
    }

    @Override
    public OptionalLong endOfText() {
        return vocab > 256 ? OptionalLong.of(256) : OptionalLong.empty();
    }
}
