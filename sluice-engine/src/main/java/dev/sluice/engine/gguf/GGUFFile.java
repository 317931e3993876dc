package dev.sluice.engine.gguf;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A GGUF file (versions 2 and 3), memory-mapped.
 *
 * <p>Design note: the whole file is mapped once into a shared {@link Arena}; tensors are slices
 * of that mapping and are never copied onto the heap. The header is parsed with bounds checks
 * on every read, so a truncated or corrupt file raises {@link ModelFormatException} naming the
 * file and what was being read, never an {@code IndexOutOfBoundsException}. Metadata values are
 * kept with their GGUF types so that {@link GGUFWriter} can write them back unchanged.
 *
 * <p>Scalar integer values up to 32 bits are stored as {@link Integer} (UINT32 keeps its bit
 * pattern), 64-bit ones as {@link Long}; arrays of integers as {@code int[]}/{@code long[]},
 * of floats as {@code float[]}/{@code double[]}, of strings as {@code String[]}, of booleans as
 * {@code boolean[]}, nested arrays as {@code Object[]}.
 *
 * <p>Thread-safe after construction. {@link #close()} unmaps the file; tensors must not be used
 * afterwards.
 */
public final class GGUFFile implements AutoCloseable {
    public static final int MAGIC = 0x46554747; // "GGUF" little-endian
    /** Default tensor-data alignment when {@code general.alignment} is absent (bytes). */
    public static final int DEFAULT_ALIGNMENT = 32;
    /** Bound on a single metadata string (bytes): larger means a corrupt length field. */
    static final long MAX_STRING_BYTES = 64L << 20;
    /** Smallest tensor info (bytes): name length 8 + n_dims 4 + one dimension 8 + type 4 + offset 8. */
    static final int MIN_TENSOR_INFO_BYTES = 32;
    /** Smallest metadata entry (bytes): key length 8 + value type 4 + a 1-byte value. */
    static final int MIN_METADATA_ENTRY_BYTES = 13;
    /** Bound on tensor dimensions. */
    static final int MAX_DIMS = 4;

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final int alignment;
    private final long dataOffset;
    private final Map<String, Object> metadata;
    private final Map<String, GGUFValueType> types;
    private final Map<String, Tensor> tensors;
    private final Map<String, GGUFValueType> elementTypes = new LinkedHashMap<>();
    private long pos;

    private GGUFFile(Path path) throws IOException {
        this.path = path;
        this.arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            this.file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
        try {
            int magic = readI32("magic");
            if (magic != MAGIC) {
                throw fail(String.format("not a GGUF file (magic 0x%08x, expected 0x%08x \"GGUF\")", magic, MAGIC));
            }
            version = readI32("version");
            if (version != 2 && version != 3) {
                throw fail("unsupported GGUF version " + version + " (supported: 2, 3)");
            }
            long tensorCount = readI64("tensor count");
            long kvCount = readI64("metadata count");
            // Each tensor info takes at least MIN_TENSOR_INFO_BYTES, each metadata entry at least
            // MIN_METADATA_ENTRY_BYTES: a count whose minimum size exceeds the rest of the file is corrupt.
            long remaining = file.byteSize() - pos;
            if (tensorCount < 0 || tensorCount > Integer.MAX_VALUE - 8 || tensorCount > remaining / MIN_TENSOR_INFO_BYTES) {
                throw fail("corrupt tensor count " + tensorCount + " (" + remaining + " bytes left in the file)");
            }
            if (kvCount < 0 || kvCount > remaining / MIN_METADATA_ENTRY_BYTES) {
                throw fail("corrupt metadata count " + kvCount + " (" + remaining + " bytes left in the file)");
            }
            Map<String, Object> md = new LinkedHashMap<>();
            Map<String, GGUFValueType> ty = new LinkedHashMap<>();
            for (long i = 0; i < kvCount; i++) {
                String key = readString("metadata key #" + i);
                GGUFValueType t = readType("metadata '" + key + "'");
                md.put(key, readValue(t, key));
                ty.put(key, t);
            }
            this.metadata = Collections.unmodifiableMap(md);
            this.types = Collections.unmodifiableMap(ty);
            Object al = md.get("general.alignment");
            this.alignment = al instanceof Number n ? n.intValue() : DEFAULT_ALIGNMENT;
            if (alignment <= 0 || Integer.bitCount(alignment) != 1) throw fail("general.alignment " + alignment + " is not a power of two");

            record Info(String name, long[] shape, GGMLType type, long offset) {}
            Info[] infos = new Info[(int) tensorCount];
            for (int i = 0; i < tensorCount; i++) {
                String name = readString("tensor name #" + i);
                int nDims = readI32("tensor '" + name + "' n_dims");
                if (nDims < 1 || nDims > MAX_DIMS) throw fail("tensor '" + name + "' has " + nDims + " dimensions (1.." + MAX_DIMS + " allowed)");
                long[] shape = new long[nDims];
                for (int d = 0; d < nDims; d++) {
                    shape[d] = readI64("tensor '" + name + "' dim " + d);
                    if (shape[d] <= 0) throw fail("tensor '" + name + "' has dimension " + shape[d]);
                }
                int typeId = readI32("tensor '" + name + "' type");
                GGMLType type = GGMLType.fromId(typeId);
                if (type == null) {
                    throw fail("tensor '" + name + "' has unknown ggml type id " + typeId + " (supported: " + GGMLType.supportedList() + ")");
                }
                long offset = readI64("tensor '" + name + "' offset");
                infos[i] = new Info(name, shape, type, offset);
            }
            this.dataOffset = align(pos, alignment);
            Map<String, Tensor> ts = new LinkedHashMap<>();
            for (Info info : infos) {
                long n = 1;
                for (long d : info.shape) n = Math.multiplyExact(n, d);
                if (n % info.type.blockSize != 0) {
                    throw fail("tensor '" + info.name + "': " + n + " elements is not a multiple of the " + info.type + " block size " + info.type.blockSize);
                }
                long bytes = Math.multiplyExact(n / info.type.blockSize, (long) info.type.typeSize);
                long start = dataOffset + info.offset;
                if (info.offset < 0 || info.offset > file.byteSize() || bytes > file.byteSize() - start) {
                    throw fail("tensor '" + info.name + "' (" + info.type + " " + java.util.Arrays.toString(info.shape) + ", " + bytes
                            + " bytes at offset " + info.offset + ") extends past the end of the file (" + file.byteSize() + " bytes): truncated?");
                }
                if (ts.put(info.name, new Tensor(info.name, info.type, info.shape, file.asSlice(start, bytes))) != null) {
                    throw fail("duplicate tensor '" + info.name + "'");
                }
            }
            this.tensors = Collections.unmodifiableMap(ts);
        } catch (ModelFormatException e) {
            arena.close();
            throw e;
        } catch (RuntimeException e) {
            // Any other failure while parsing untrusted bytes (arithmetic overflow, a negative array
            // size, an out-of-bounds slice) is a corrupt file, never a crash of the caller.
            arena.close();
            throw new ModelFormatException(path + ": corrupt header: " + e, e);
        }
    }

    /** Opens and maps {@code path}. */
    public static GGUFFile open(Path path) {
        try {
            return new GGUFFile(path);
        } catch (IOException e) {
            throw new ModelFormatException(path + ": cannot read GGUF file: " + e.getMessage(), e);
        }
    }

    static long align(long x, int alignment) {
        return (x + alignment - 1) / alignment * alignment;
    }

    private ModelFormatException fail(String msg) {
        return ModelFormatException.of(path, msg);
    }

    private void need(long n, String what) {
        if (n < 0 || pos + n > file.byteSize()) {
            throw fail("truncated while reading " + what + " at byte " + pos + " (file has " + file.byteSize() + " bytes)");
        }
    }

    private int readI32(String what) {
        need(4, what);
        int v = file.get(I32, pos);
        pos += 4;
        return v;
    }

    private long readI64(String what) {
        need(8, what);
        long v = file.get(I64, pos);
        pos += 8;
        return v;
    }

    private String readString(String what) {
        long len = readI64(what + " length");
        if (len < 0 || len > MAX_STRING_BYTES) throw fail("corrupt string length " + len + " for " + what);
        need(len, what);
        byte[] b = file.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
        pos += len;
        return new String(b, StandardCharsets.UTF_8);
    }

    private GGUFValueType readType(String what) {
        int id = readI32(what + " type");
        GGUFValueType t = GGUFValueType.fromId(id);
        if (t == null) throw fail("unknown metadata value type " + id + " for " + what);
        return t;
    }

    /**
     * Smallest encoded size of one array element of type {@code t} (bytes): strings carry an
     * 8-byte length, nested arrays a 4-byte type and an 8-byte length.
     */
    static int minElementBytes(GGUFValueType t) {
        return switch (t) {
            case UINT8, INT8, BOOL -> 1;
            case UINT16, INT16 -> 2;
            case UINT32, INT32, FLOAT32 -> 4;
            case UINT64, INT64, FLOAT64, STRING -> 8;
            case ARRAY -> 12;
        };
    }

    private Object readValue(GGUFValueType t, String key) {
        switch (t) {
            case UINT8, INT8 -> {
                need(1, key);
                byte b = file.get(ValueLayout.JAVA_BYTE, pos++);
                return t == GGUFValueType.UINT8 ? b & 0xFF : (int) b;
            }
            case UINT16, INT16 -> {
                need(2, key);
                short s = file.get(I16, pos);
                pos += 2;
                return t == GGUFValueType.UINT16 ? s & 0xFFFF : (int) s;
            }
            case UINT32, INT32 -> {
                return readI32(key);
            }
            case UINT64, INT64 -> {
                return readI64(key);
            }
            case FLOAT32 -> {
                need(4, key);
                float f = file.get(F32, pos);
                pos += 4;
                return f;
            }
            case FLOAT64 -> {
                need(8, key);
                double d = file.get(F64, pos);
                pos += 8;
                return d;
            }
            case BOOL -> {
                need(1, key);
                byte b = file.get(ValueLayout.JAVA_BYTE, pos++);
                if (b != 0 && b != 1) throw fail("metadata '" + key + "': bool byte " + b);
                return b == 1;
            }
            case STRING -> {
                return readString("metadata '" + key + "'");
            }
            case ARRAY -> {
                GGUFValueType et = readType("metadata '" + key + "' element");
                elementTypes.putIfAbsent(key, et);
                long n = readI64("metadata '" + key + "' array length");
                long remaining = file.byteSize() - pos;
                if (n < 0 || n > Integer.MAX_VALUE - 8 || n > remaining / minElementBytes(et)) {
                    throw fail("metadata '" + key + "': corrupt array length " + n + " of " + et + " ("
                            + remaining + " bytes left in the file)");
                }
                int len = (int) n;
                return switch (et) {
                    case UINT8, INT8, UINT16, INT16, UINT32, INT32 -> {
                        int[] a = new int[len];
                        for (int i = 0; i < len; i++) a[i] = ((Number) readValue(et, key)).intValue();
                        yield a;
                    }
                    case UINT64, INT64 -> {
                        long[] a = new long[len];
                        for (int i = 0; i < len; i++) a[i] = readI64(key);
                        yield a;
                    }
                    case FLOAT32 -> {
                        need(4L * len, key);
                        float[] a = file.asSlice(pos, 4L * len).toArray(F32);
                        pos += 4L * len;
                        yield a;
                    }
                    case FLOAT64 -> {
                        double[] a = new double[len];
                        for (int i = 0; i < len; i++) a[i] = (Double) readValue(et, key);
                        yield a;
                    }
                    case BOOL -> {
                        boolean[] a = new boolean[len];
                        for (int i = 0; i < len; i++) a[i] = (Boolean) readValue(et, key);
                        yield a;
                    }
                    case STRING -> {
                        String[] a = new String[len];
                        for (int i = 0; i < len; i++) a[i] = readString("metadata '" + key + "'[" + i + "]");
                        yield a;
                    }
                    case ARRAY -> {
                        Object[] a = new Object[len];
                        for (int i = 0; i < len; i++) a[i] = readValue(et, key);
                        yield a;
                    }
                };
            }
        }
        throw new AssertionError(t);
    }

    public Path path() { return path; }
    public int version() { return version; }
    public int alignment() { return alignment; }
    public long dataOffset() { return dataOffset; }
    public Map<String, Object> metadata() { return metadata; }
    /** GGUF type of each metadata value (for arrays: {@link GGUFValueType#ARRAY}; see {@link #arrayType}). */
    public Map<String, GGUFValueType> metadataTypes() { return types; }
    public Map<String, Tensor> tensors() { return tensors; }

    /** The tensor named {@code name}; a {@link ModelFormatException} naming the file when missing. */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw fail("missing tensor '" + name + "'");
        return t;
    }

    public boolean has(String key) { return metadata.containsKey(key); }

    public String getString(String key, String dflt) {
        Object v = metadata.get(key);
        if (v == null) return dflt;
        if (v instanceof String s) return s;
        throw fail("metadata '" + key + "' is " + types.get(key) + ", expected STRING");
    }

    public String requireString(String key) {
        String s = getString(key, null);
        if (s == null) throw fail("missing metadata '" + key + "'");
        return s;
    }

    public int getInt(String key, int dflt) {
        Object v = metadata.get(key);
        if (v == null) return dflt;
        if (v instanceof Number n) return n.intValue();
        throw fail("metadata '" + key + "' is " + types.get(key) + ", expected an integer");
    }

    public int requireInt(String key) {
        if (!metadata.containsKey(key)) throw fail("missing metadata '" + key + "'");
        return getInt(key, 0);
    }

    public float getFloat(String key, float dflt) {
        Object v = metadata.get(key);
        if (v == null) return dflt;
        if (v instanceof Number n) return n.floatValue();
        throw fail("metadata '" + key + "' is " + types.get(key) + ", expected a number");
    }

    public boolean getBool(String key, boolean dflt) {
        Object v = metadata.get(key);
        if (v == null) return dflt;
        if (v instanceof Boolean b) return b;
        throw fail("metadata '" + key + "' is " + types.get(key) + ", expected BOOL");
    }

    public <T> T getArray(String key, Class<T> arrayClass) {
        Object v = metadata.get(key);
        if (v == null) return null;
        if (arrayClass.isInstance(v)) return arrayClass.cast(v);
        throw fail("metadata '" + key + "' has type " + v.getClass().getSimpleName() + ", expected " + arrayClass.getSimpleName());
    }

    /** The GGUF element type of an array-valued key, or null when the key is not an array. */
    public GGUFValueType arrayType(String key) {
        return elementTypes.get(key);
    }

    @Override
    public void close() {
        arena.close();
    }
}
