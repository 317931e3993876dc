package dev.sluice.engine.gguf;

import dev.sluice.engine.tensor.GGMLType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Writes GGUF v3 files: metadata with explicit value types, then tensor infos, then tensor data
 * aligned to {@code general.alignment}.
 *
 * <p>Tensor data is produced lazily at write time (from a mapped segment or a callback that
 * fills a buffer), so converting or quantizing a multi-gigabyte model never holds it on the
 * heap. The file is written to a temporary sibling and moved into place at the end, so a
 * failed write never leaves a truncated model behind.
 */
public final class GGUFWriter {
    private record Entry(GGUFValueType type, GGUFValueType elementType, Object value) {}

    /** Writes exactly {@code byteSize} bytes of one tensor's data into the channel. */
    public interface TensorData {
        void writeTo(FileChannel out) throws IOException;
    }

    private record TensorEntry(String name, GGMLType type, long[] shape, long bytes, TensorData data) {}

    /** Bytes written per call when copying a segment (well under the 2 GiB ByteBuffer limit). */
    static final long COPY_SLICE_BYTES = 1L << 30;

    private final Map<String, Entry> metadata = new LinkedHashMap<>();
    private final List<TensorEntry> tensors = new ArrayList<>();
    private int alignment = GGUFFile.DEFAULT_ALIGNMENT;

    public GGUFWriter put(String key, GGUFValueType type, Object value) {
        if (type == GGUFValueType.ARRAY) throw new IllegalArgumentException("use putArray for " + key);
        metadata.put(key, new Entry(type, null, value));
        if (key.equals("general.alignment")) alignment = ((Number) value).intValue();
        return this;
    }

    public GGUFWriter putString(String key, String value) { return put(key, GGUFValueType.STRING, value); }
    public GGUFWriter putUInt32(String key, int value) { return put(key, GGUFValueType.UINT32, value); }
    public GGUFWriter putFloat32(String key, float value) { return put(key, GGUFValueType.FLOAT32, value); }
    public GGUFWriter putBool(String key, boolean value) { return put(key, GGUFValueType.BOOL, value); }

    /** An array value; {@code array} is an {@code int[]}, {@code long[]}, {@code float[]}, {@code double[]}, {@code boolean[]} or {@code String[]}. */
    public GGUFWriter putArray(String key, GGUFValueType elementType, Object array) {
        metadata.put(key, new Entry(GGUFValueType.ARRAY, elementType, array));
        return this;
    }

    public GGUFWriter remove(String key) {
        metadata.remove(key);
        return this;
    }

    /** Copies every metadata value of {@code src}, with its type. */
    public GGUFWriter copyMetadata(GGUFFile src) {
        for (var e : src.metadata().entrySet()) {
            GGUFValueType t = src.metadataTypes().get(e.getKey());
            if (t == GGUFValueType.ARRAY) putArray(e.getKey(), src.arrayType(e.getKey()), e.getValue());
            else put(e.getKey(), t, e.getValue());
        }
        return this;
    }

    public GGUFWriter addTensor(String name, GGMLType type, long[] shape, TensorData data) {
        long n = 1;
        for (long d : shape) n *= d;
        tensors.add(new TensorEntry(name, type, shape.clone(), type.byteSize(n), data));
        return this;
    }

    /** A tensor whose bytes are {@code data} (for example a slice of a mapped file). */
    public GGUFWriter addTensor(String name, GGMLType type, long[] shape, MemorySegment data) {
        return addTensor(name, type, shape, (TensorData) out -> {
            // in slices: a ByteBuffer cannot view more than 2 GiB
            for (long off = 0; off < data.byteSize(); off += COPY_SLICE_BYTES) {
                writeFully(out, data.asSlice(off, Math.min(COPY_SLICE_BYTES, data.byteSize() - off)).asByteBuffer());
            }
        });
    }

    /** A tensor whose bytes a callback produces into a little-endian buffer of its exact size. */
    public GGUFWriter addTensorFilled(String name, GGMLType type, long[] shape, Consumer<ByteBuffer> fill) {
        long n = 1;
        for (long d : shape) n *= d;
        long bytes = type.byteSize(n);
        return addTensor(name, type, shape, (TensorData) out -> {
            ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN);
            fill.accept(b);
            if (b.position() != bytes) throw new IllegalStateException("tensor " + name + ": wrote " + b.position() + " of " + bytes + " bytes");
            b.flip();
            writeFully(out, b);
        });
    }

    public void write(Path path) {
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            Header h = new Header();
            h.i32(GGUFFile.MAGIC).i32(3).i64(tensors.size()).i64(metadata.size());
            for (var e : metadata.entrySet()) {
                h.str(e.getKey());
                h.i32(e.getValue().type.ordinal());
                if (e.getValue().type == GGUFValueType.ARRAY) {
                    h.array(e.getValue().elementType, e.getValue().value);
                } else {
                    h.value(e.getValue().type, e.getValue().value);
                }
            }
            long offset = 0;
            for (TensorEntry t : tensors) {
                h.str(t.name).i32(t.shape.length);
                for (long d : t.shape) h.i64(d);
                h.i32(t.type.id).i64(offset);
                offset = GGUFFile.align(offset + t.bytes, alignment);
            }
            long headerLen = h.size();
            h.pad(GGUFFile.align(headerLen, alignment) - headerLen);
            writeFully(out, h.buffer());
            long dataStart = out.position();
            for (TensorEntry t : tensors) {
                long before = out.position();
                t.data.writeTo(out);
                long written = out.position() - before;
                if (written != t.bytes) throw new IllegalStateException("tensor " + t.name + ": wrote " + written + " of " + t.bytes + " bytes");
                long rel = out.position() - dataStart;
                long pad = GGUFFile.align(rel, alignment) - rel;
                if (pad > 0) writeFully(out, ByteBuffer.allocate((int) pad));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + path + ": " + e.getMessage(), e);
        }
        try {
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move " + tmp + " to " + path, e);
        }
    }

    static void writeFully(FileChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) out.write(b);
    }

    /** A growable little-endian header buffer. */
    private static final class Header {
        private ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);

        private void ensure(long n) {
            if (b.remaining() < n) {
                long cap = Math.max(b.capacity() * 2L, b.position() + n);
                ByteBuffer nb = ByteBuffer.allocate(Math.toIntExact(cap)).order(ByteOrder.LITTLE_ENDIAN);
                b.flip();
                nb.put(b);
                b = nb;
            }
        }

        Header i32(int v) { ensure(4); b.putInt(v); return this; }
        Header i64(long v) { ensure(8); b.putLong(v); return this; }

        Header str(String s) {
            byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
            i64(bytes.length);
            ensure(bytes.length);
            b.put(bytes);
            return this;
        }

        void pad(long n) { ensure(n); for (long i = 0; i < n; i++) b.put((byte) 0); }
        long size() { return b.position(); }
        ByteBuffer buffer() { ByteBuffer d = b.duplicate(); d.flip(); return d; }

        void value(GGUFValueType t, Object v) {
            switch (t) {
                case UINT8, INT8 -> { ensure(1); b.put((byte) ((Number) v).intValue()); }
                case UINT16, INT16 -> { ensure(2); b.putShort((short) ((Number) v).intValue()); }
                case UINT32, INT32 -> i32(((Number) v).intValue());
                case UINT64, INT64 -> i64(((Number) v).longValue());
                case FLOAT32 -> { ensure(4); b.putFloat(((Number) v).floatValue()); }
                case FLOAT64 -> { ensure(8); b.putDouble(((Number) v).doubleValue()); }
                case BOOL -> { ensure(1); b.put((byte) (((Boolean) v) ? 1 : 0)); }
                case STRING -> str((String) v);
                case ARRAY -> throw new IllegalArgumentException("nested array needs an element type");
            }
        }

        void array(GGUFValueType et, Object a) {
            i32(et.ordinal());
            switch (a) {
                case int[] x -> { i64(x.length); for (int v : x) value(et, v); }
                case long[] x -> { i64(x.length); for (long v : x) value(et, v); }
                case float[] x -> { i64(x.length); for (float v : x) value(et, v); }
                case double[] x -> { i64(x.length); for (double v : x) value(et, v); }
                case boolean[] x -> { i64(x.length); for (boolean v : x) value(et, v); }
                case String[] x -> { i64(x.length); for (String v : x) str(v); }
                case Object[] x -> {
                    i64(x.length);
                    for (Object v : x) {
                        if (v != null && v.getClass().isArray()) throw new IllegalArgumentException("nested GGUF arrays are not written");
                        value(et, v);
                    }
                }
                default -> throw new IllegalArgumentException("not an array: " + a);
            }
        }
    }
}
