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
            DataType type = dt.equals("F32") ? DataType.FLOAT32 : DataType.INT64;
            out.put(e.getKey(), manager.create(data, new Shape(shape), type));
        }
        return out;
    }

    public static Map<String, NDArray> loadCheckpoint(Path dir, NDManager manager) throws IOException {
        return load(dir.resolve("model.safetensors"), manager);
    }
}
