package dev.sluice.engine.safetensors;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A Hugging Face safetensors checkpoint, memory-mapped: one {@code .safetensors} file, or a
 * directory holding {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json}.
 *
 * <p>File layout: an unsigned 64-bit little-endian header length {@code N}, {@code N} bytes of
 * JSON mapping each tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}}
 * (offsets relative to the byte after the header) plus an optional {@code "__metadata__"}
 * string map, then the raw little-endian tensor bytes.
 *
 * <p>Design note: every file is mapped once into one shared {@link Arena}; tensors are slices
 * of the mappings and never copied onto the heap. Every header field is validated when the file
 * is opened (JSON shape, known dtype, offsets inside the file, {@code end - begin} equal to
 * dtype size times the element count), so a corrupt file raises {@link ModelFormatException}
 * naming the file and tensor, never another exception. Tensors of dtypes outside
 * {@link #SUPPORTED_DTYPES} can be listed but raise a {@link ModelFormatException} listing the
 * supported dtypes when requested. Thread-safe after construction; {@link #close()} unmaps.
 *
 * <p>Shapes: safetensors lists the outermost dimension first ({@code [rows, cols]}); the
 * {@link Tensor}s returned here use ggml order (reversed: {@code {cols, rows}}).
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Largest accepted JSON header (bytes), as in the safetensors reference implementation: larger means a corrupt length. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    /** Dtypes that map to a {@link GGMLType} and can be returned as tensors. */
    public static final List<String> SUPPORTED_DTYPES = List.of("F32", "F16", "BF16");
    /** Name of the shard index in a sharded checkpoint directory. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Integer> DTYPE_BYTES = Map.ofEntries(
            Map.entry("F64", 8), Map.entry("F32", 4), Map.entry("F16", 2), Map.entry("BF16", 2),
            Map.entry("I64", 8), Map.entry("I32", 4), Map.entry("I16", 2), Map.entry("I8", 1),
            Map.entry("U64", 8), Map.entry("U32", 4), Map.entry("U16", 2), Map.entry("U8", 1),
            Map.entry("BOOL", 1), Map.entry("F8_E4M3", 1), Map.entry("F8_E5M2", 1), Map.entry("F8_E8M0", 1));

    /** One tensor's header entry: safetensors dtype, safetensors-order shape, owning file, bytes. */
    public record Entry(String name, String dtype, long[] hfShape, Path file, MemorySegment data) {}

    private final Path source;
    private final Arena arena;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;
    private final List<Path> files;

    private SafetensorsFile(Path source, Arena arena, Map<String, Entry> entries, Map<String, String> metadata, List<Path> files) {
        this.source = source;
        this.arena = arena;
        this.entries = Collections.unmodifiableMap(entries);
        this.metadata = Collections.unmodifiableMap(metadata);
        this.files = List.copyOf(files);
    }

    /**
     * Opens a {@code .safetensors} file, or a directory (sharded via {@value #INDEX_FILE}, else
     * {@code model.safetensors}, else every {@code *.safetensors} in it).
     */
    public static SafetensorsFile open(Path fileOrDir) {
        List<Path> files = new ArrayList<>();
        Map<String, String> expected = null; // tensor -> shard file name, from the index
        if (Files.isDirectory(fileOrDir)) {
            Path index = fileOrDir.resolve(INDEX_FILE);
            if (Files.isRegularFile(index)) {
                expected = readIndex(index);
                for (String f : new LinkedHashSet<>(expected.values())) {
                    Path p = fileOrDir.resolve(f).normalize();
                    if (!p.startsWith(fileOrDir.normalize()) || !Files.isRegularFile(p)) {
                        throw ModelFormatException.of(index, "shard '" + f + "' listed in weight_map is missing");
                    }
                    files.add(p);
                }
            } else if (Files.isRegularFile(fileOrDir.resolve("model.safetensors"))) {
                files.add(fileOrDir.resolve("model.safetensors"));
            } else {
                try (Stream<Path> s = Files.list(fileOrDir)) {
                    s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().forEach(files::add);
                } catch (IOException e) {
                    throw new ModelFormatException(fileOrDir + ": cannot list directory: " + e.getMessage(), e);
                }
                if (files.isEmpty()) throw ModelFormatException.of(fileOrDir, "no .safetensors files (and no " + INDEX_FILE + ")");
            }
        } else {
            files.add(fileOrDir);
        }
        Arena arena = Arena.ofShared();
        try {
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Path f : files) {
                for (Entry e : readFile(f, arena, metadata)) {
                    if (entries.put(e.name(), e) != null) throw ModelFormatException.of(f, "tensor '" + e.name() + "' appears in more than one file");
                }
            }
            if (expected != null) {
                for (var e : expected.entrySet()) {
                    Entry en = entries.get(e.getKey());
                    if (en == null || !en.file().getFileName().toString().equals(Path.of(e.getValue()).getFileName().toString())) {
                        throw ModelFormatException.of(fileOrDir.resolve(INDEX_FILE), "tensor '" + e.getKey() + "' is not in its listed shard '" + e.getValue() + "'");
                    }
                }
            }
            return new SafetensorsFile(fileOrDir, arena, entries, metadata, files);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Map<String, String> readIndex(Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(index + ": cannot parse shard index: " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) throw ModelFormatException.of(index, "no \"weight_map\" object");
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().isTextual()) throw ModelFormatException.of(index, "weight_map entry '" + e.getKey() + "' is not a file name");
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    private static List<Entry> readFile(Path path, Arena arena, Map<String, String> metadata) {
        MemorySegment file;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (IOException e) {
            throw new ModelFormatException(path + ": cannot read safetensors file: " + e.getMessage(), e);
        }
        long size = file.byteSize();
        if (size < 8) throw ModelFormatException.of(path, "truncated: " + size + " bytes, no 8-byte header length");
        long headerLen = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
            throw ModelFormatException.of(path, "corrupt header length " + Long.toUnsignedString(headerLen) + " (must be 2.." + MAX_HEADER_BYTES + "): not a safetensors file?");
        }
        if (8 + headerLen > size) throw ModelFormatException.of(path, "truncated: header of " + headerLen + " bytes but file has " + size + " bytes");
        byte[] hb = file.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        JsonNode root;
        try {
            root = JSON.readTree(new String(hb, StandardCharsets.UTF_8));
        } catch (JacksonException e) {
            throw new ModelFormatException(path + ": header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) throw ModelFormatException.of(path, "header is not a JSON object");
        long dataStart = 8 + headerLen;
        long dataLen = size - dataStart;
        List<Entry> out = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            var e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) throw ModelFormatException.of(path, "__metadata__ is not an object");
                v.fields().forEachRemaining(m -> metadata.putIfAbsent(m.getKey(), m.getValue().isTextual() ? m.getValue().asText() : m.getValue().toString()));
                continue;
            }
            String where = "tensor '" + name + "'";
            if (!v.isObject()) throw ModelFormatException.of(path, where + ": header entry is not an object");
            JsonNode dt = v.get("dtype"), sh = v.get("shape"), of = v.get("data_offsets");
            if (dt == null || !dt.isTextual()) throw ModelFormatException.of(path, where + ": missing dtype");
            String dtype = dt.asText();
            Integer elemBytes = DTYPE_BYTES.get(dtype);
            if (elemBytes == null) {
                throw ModelFormatException.of(path, where + ": unknown dtype '" + dtype + "' (supported: " + String.join(", ", SUPPORTED_DTYPES) + ")");
            }
            if (sh == null || !sh.isArray() || sh.size() > 8) throw ModelFormatException.of(path, where + ": missing or bad shape");
            long[] shape = new long[sh.size()];
            long numel = 1;
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = sh.get(i);
                if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) throw ModelFormatException.of(path, where + ": bad dimension " + d);
                shape[i] = d.asLong();
                try {
                    numel = Math.multiplyExact(numel, shape[i]);
                } catch (ArithmeticException ex) {
                    throw ModelFormatException.of(path, where + ": shape " + sh + " overflows");
                }
            }
            if (of == null || !of.isArray() || of.size() != 2 || !of.get(0).isIntegralNumber() || !of.get(1).isIntegralNumber()
                    || !of.get(0).canConvertToLong() || !of.get(1).canConvertToLong()) {
                throw ModelFormatException.of(path, where + ": missing or bad data_offsets");
            }
            long begin = of.get(0).asLong(), end = of.get(1).asLong();
            if (begin < 0 || end < begin || end > dataLen) {
                throw ModelFormatException.of(path, where + ": data_offsets [" + begin + ", " + end + "] outside the data section of "
                        + dataLen + " bytes: truncated file?");
            }
            long expectedBytes;
            try {
                expectedBytes = Math.multiplyExact(numel, (long) elemBytes);
            } catch (ArithmeticException ex) {
                throw ModelFormatException.of(path, where + ": shape " + sh + " overflows");
            }
            if (end - begin != expectedBytes) {
                throw ModelFormatException.of(path, where + ": " + dtype + " " + sh + " needs " + expectedBytes + " bytes but data_offsets span " + (end - begin));
            }
            out.add(new Entry(name, dtype, shape, path, file.asSlice(dataStart + begin, end - begin)));
        }
        return out;
    }

    /** The file or directory this was opened from. */
    public Path source() { return source; }

    /** The mapped files (one, or the shards). */
    public List<Path> files() { return files; }

    /** Every header entry, in file order, whatever its dtype. */
    public Map<String, Entry> entries() { return entries; }

    /** The {@code __metadata__} strings (of all shards, the first value of a key kept). */
    public Map<String, String> metadata() { return metadata; }

    public boolean has(String name) { return entries.containsKey(name); }

    /** The tensor, when present; raises when present with an unsupported dtype. */
    public Optional<Tensor> find(String name) {
        Entry e = entries.get(name);
        return e == null ? Optional.empty() : Optional.of(toTensor(e));
    }

    /** The tensor {@code name}; a {@link ModelFormatException} naming the file when missing or of an unsupported dtype. */
    public Tensor tensor(String name) {
        Entry e = entries.get(name);
        if (e == null) throw ModelFormatException.of(source, "missing tensor '" + name + "'");
        return toTensor(e);
    }

    private static Tensor toTensor(Entry e) {
        GGMLType type = switch (e.dtype()) {
            case "F32" -> GGMLType.F32;
            case "F16" -> GGMLType.F16;
            case "BF16" -> GGMLType.BF16;
            default -> throw ModelFormatException.of(e.file(), "tensor '" + e.name() + "' has dtype " + e.dtype()
                    + " (supported: " + String.join(", ", SUPPORTED_DTYPES) + ")");
        };
        long[] hf = e.hfShape();
        long[] ggml = new long[Math.max(1, hf.length)];
        if (hf.length == 0) ggml[0] = 1;
        for (int i = 0; i < hf.length; i++) ggml[i] = hf[hf.length - 1 - i];
        return new Tensor(e.name(), type, ggml, e.data());
    }

    @Override
    public void close() {
        arena.close();
    }
}
