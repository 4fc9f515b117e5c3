package ai.djl.xlstm.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** TEMPORARY minimal reader (to be replaced). */
public final class SafeTensors {
    private SafeTensors() {}

    public static Map<String, NDArray> load(Path file, NDManager manager) throws IOException {
        byte[] all = Files.readAllBytes(file);
        ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        int n = (int) bb.getLong(0);
        JsonObject h = new Gson().fromJson(new String(all, 8, n, StandardCharsets.UTF_8), JsonObject.class);
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : h.entrySet()) {
            if (e.getKey().equals("__metadata__")) continue;
            JsonObject t = e.getValue().getAsJsonObject();
            long[] shape = new Gson().fromJson(t.get("shape"), long[].class);
            long[] off = new Gson().fromJson(t.get("data_offsets"), long[].class);
            String dt = t.get("dtype").getAsString();
            ByteBuffer data = ByteBuffer.allocateDirect((int) (off[1] - off[0])).order(ByteOrder.LITTLE_ENDIAN);
            data.put(all, 8 + n + (int) off[0], (int) (off[1] - off[0])).flip();
            if (dt.equals("BF16") || dt.equals("F16")) {
                ByteBuffer f = ByteBuffer.allocateDirect(data.remaining() * 2).order(ByteOrder.LITTLE_ENDIAN);
                while (data.hasRemaining()) {
                    short hv = data.getShort();
                    f.putFloat(dt.equals("BF16") ? Float.intBitsToFloat((hv & 0xffff) << 16) : half(hv));
                }
                f.flip();
                out.put(e.getKey(), manager.create(f, new Shape(shape), DataType.FLOAT32));
                continue;
            }
            DataType type = dt.equals("F32") ? DataType.FLOAT32 : DataType.INT64;
            out.put(e.getKey(), manager.create(data, new Shape(shape), type));
        }
        return out;
    }

    static float half(short h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0) {
            return Float.intBitsToFloat(sign);
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    public static Map<String, NDArray> loadCheckpoint(Path dir, NDManager manager) throws IOException {
        Map<String, NDArray> out = new LinkedHashMap<>();
        if (Files.exists(dir.resolve("model.safetensors.index.json"))) {
            JsonObject idx = new Gson().fromJson(Files.readString(dir.resolve("model.safetensors.index.json")), JsonObject.class);
            java.util.Set<String> files = new java.util.TreeSet<>();
            idx.getAsJsonObject("weight_map").entrySet().forEach(e -> files.add(e.getValue().getAsString()));
            for (String f : files) out.putAll(load(dir.resolve(f), manager));
            return out;
        }
        if (Files.exists(dir.resolve("model.safetensors"))) return load(dir.resolve("model.safetensors"), manager);
        for (int i = 0; Files.exists(dir.resolve("model_" + i + ".safetensors")); i++) out.putAll(load(dir.resolve("model_" + i + ".safetensors"), manager));
        return out;
    }

    public static void save(Path file, Map<String, NDArray> tensors, Map<String, String> metadata) throws IOException {
        StringBuilder h = new StringBuilder("{");
        long off = 0;
        java.util.List<byte[]> datas = new java.util.ArrayList<>();
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray a = e.getValue();
            byte[] d = new byte[(int) (a.size() * a.getDataType().getNumOfBytes())];
            a.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN).get(d);
            datas.add(d);
            h.append(off == 0 ? "" : ",").append('"').append(e.getKey()).append("\":{\"dtype\":\"")
                    .append(a.getDataType() == DataType.FLOAT32 ? "F32" : "I64").append("\",\"shape\":")
                    .append(java.util.Arrays.toString(a.getShape().getShape())).append(",\"data_offsets\":[").append(off).append(',').append(off + d.length).append("]}");
            off += d.length;
        }
        h.append('}');
        byte[] hb = h.toString().getBytes(StandardCharsets.UTF_8);
        try (java.io.OutputStream os = Files.newOutputStream(file)) {
            os.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length).array());
            os.write(hb);
            for (byte[] d : datas) os.write(d);
        }
    }
}
