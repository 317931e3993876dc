package dev.sluice.engine.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Test helper: writes safetensors files as the Python {@code safetensors} library does (header padded to 8 bytes). */
public final class SafetensorsWriter {
    public record T(String dtype, long[] shape, byte[] data) {}

    private final Map<String, T> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    public SafetensorsWriter add(String name, String dtype, long[] shape, byte[] data) {
        tensors.put(name, new T(dtype, shape, data));
        return this;
    }

    /** Adds {@code values} encoded as F32, F16 or BF16 (round-to-nearest-even, like torch). */
    public SafetensorsWriter add(String name, String dtype, long[] shape, float[] values) {
        return add(name, dtype, shape, encode(dtype, values));
    }

    public SafetensorsWriter meta(String k, String v) {
        metadata.put(k, v);
        return this;
    }

    public Map<String, T> tensors() {
        return tensors;
    }

    public static byte[] encode(String dtype, float[] v) {
        int size = dtype.equals("F32") ? 4 : 2;
        ByteBuffer b = ByteBuffer.allocate(v.length * size).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            switch (dtype) {
                case "F32" -> b.putFloat(f);
                case "F16" -> b.putShort(Float.floatToFloat16(f));
                case "BF16" -> b.putShort(dev.sluice.engine.tensor.Quantizer.toBF16(f));
                default -> throw new IllegalArgumentException(dtype);
            }
        }
        return b.array();
    }

    public byte[] toBytes() {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = root.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long off = 0;
        for (var e : tensors.entrySet()) {
            ObjectNode t = root.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype());
            ArrayNode s = t.putArray("shape");
            for (long d : e.getValue().shape()) s.add(d);
            ArrayNode o = t.putArray("data_offsets");
            o.add(off);
            off += e.getValue().data().length;
            o.add(off);
        }
        byte[] header = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (header.length + 7) / 8 * 8;
        ByteBuffer b = ByteBuffer.allocate((int) (8 + padded + off)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded);
        b.put(header);
        for (int i = header.length; i < padded; i++) b.put((byte) ' ');
        for (T t : tensors.values()) b.put(t.data());
        return b.array();
    }

    public Path write(Path file) {
        try {
            Files.write(file, toBytes());
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
