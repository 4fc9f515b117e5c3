package ai.djl.xlstm.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.xlstm.io.ParameterNames;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.function.Supplier;
import java.util.zip.CRC32C;

/**
 * A digest of named arrays, for the integrity checks of {@link GenerationSession} files: the
 * SHA-256 of, for each array in order, its name, type, shape and the CRC32C of its bytes.
 *
 * <p>CRC32C reads the bytes about twenty times faster than SHA-256 (it is a CPU instruction), so
 * the weights of a billion-parameter model hash in about a second rather than several; it detects
 * every single-bit and every burst error up to 32 bits in an array, and misses other accidental
 * changes of an array with probability 2^-32. This guards against corruption and mix-ups, not
 * forgery: whoever can edit a session file can also rewrite its digests.
 */
final class TensorDigest {

    private final MessageDigest sha256;
    private final CRC32C crc = new CRC32C();

    TensorDigest() {
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every Java platform has SHA-256
        }
    }

    /** Adds one named array. */
    void add(String name, NDArray array) {
        ByteBuffer bytes = array.toByteBuffer();
        crc.reset();
        crc.update(bytes.duplicate());
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        byte[] typeBytes = array.getDataType().name().getBytes(StandardCharsets.UTF_8);
        long[] shape = array.getShape().getShape();
        ByteBuffer entry =
                ByteBuffer.allocate(4 + nameBytes.length + 4 + typeBytes.length + 4 + 8 * shape.length + 16)
                        .order(ByteOrder.LITTLE_ENDIAN);
        entry.putInt(nameBytes.length).put(nameBytes).putInt(typeBytes.length).put(typeBytes);
        entry.putInt(shape.length);
        for (long d : shape) {
            entry.putLong(d);
        }
        entry.putLong(bytes.remaining()).putLong(crc.getValue());
        sha256.update(entry.flip());
    }

    /** The digest of every array added, as 64 hex digits; the digest starts over afterwards. */
    String hex() {
        return HexFormat.of().formatHex(sha256.digest());
    }

    /** The digest of every parameter of {@code model} (name, type, shape, values), in {@link ParameterNames} order. */
    static String weights(XLstmLanguageModel model) {
        TensorDigest digest = new TensorDigest();
        ParameterNames.of(model).forEach((name, p) -> digest.add(name, p.getArray()));
        return digest.hex();
    }

    /**
     * {@link #weights} of {@code model}, computed on the first {@link Supplier#get()} and then
     * remembered: changes to the weights afterwards are not seen (see {@link Generator}).
     */
    static Supplier<String> weightsOnce(XLstmLanguageModel model) {
        return new Supplier<>() {
            private String hash;

            @Override
            public synchronized String get() {
                if (hash == null) {
                    hash = weights(model);
                }
                return hash;
            }
        };
    }
}
