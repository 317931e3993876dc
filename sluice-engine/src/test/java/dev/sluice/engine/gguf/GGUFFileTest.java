package dev.sluice.engine.gguf;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Quantizer;
import dev.sluice.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** GGUFWriter → GGUFFile round trips over every metadata type, alignment, v2/v3, and bad input. */
class GGUFFileTest {
    @TempDir Path dir;

    static final float[] F32_DATA = {1.5f, -2.25f, 3f, 0f, 1e-3f, -7f};

    /** A file with one metadata value of every type and three tensors (F32, F16, Q8_0). */
    static GGUFWriter sample(int alignment) {
        GGUFWriter w = new GGUFWriter();
        if (alignment > 0) w.putUInt32("general.alignment", alignment);
        w.put("t.u8", GGUFValueType.UINT8, 200)
                .put("t.i8", GGUFValueType.INT8, -5)
                .put("t.u16", GGUFValueType.UINT16, 60000)
                .put("t.i16", GGUFValueType.INT16, -300)
                .put("t.u32", GGUFValueType.UINT32, 0xFFFFFFF0)
                .put("t.i32", GGUFValueType.INT32, -123456)
                .put("t.f32", GGUFValueType.FLOAT32, 3.25f)
                .put("t.bool", GGUFValueType.BOOL, true)
                .put("t.str", GGUFValueType.STRING, "héllo ✓ \u0000 end")
                .put("t.u64", GGUFValueType.UINT64, 1L << 40)
                .put("t.i64", GGUFValueType.INT64, -(1L << 50))
                .put("t.f64", GGUFValueType.FLOAT64, Math.PI)
                .putArray("a.u8", GGUFValueType.UINT8, new int[] {0, 255, 7})
                .putArray("a.i8", GGUFValueType.INT8, new int[] {-128, 127})
                .putArray("a.u16", GGUFValueType.UINT16, new int[] {65535, 1})
                .putArray("a.i16", GGUFValueType.INT16, new int[] {-32768, 32767})
                .putArray("a.u32", GGUFValueType.UINT32, new int[] {-1, 5})
                .putArray("a.i32", GGUFValueType.INT32, new int[] {Integer.MIN_VALUE, 0, Integer.MAX_VALUE})
                .putArray("a.u64", GGUFValueType.UINT64, new long[] {Long.MAX_VALUE})
                .putArray("a.i64", GGUFValueType.INT64, new long[] {-1L, Long.MIN_VALUE})
                .putArray("a.f32", GGUFValueType.FLOAT32, new float[] {0.5f, -1e30f, Float.MIN_VALUE})
                .putArray("a.f64", GGUFValueType.FLOAT64, new double[] {1e300, -0.0})
                .putArray("a.bool", GGUFValueType.BOOL, new boolean[] {true, false, true})
                .putArray("a.str", GGUFValueType.STRING, new String[] {"<s>", "", "▁the", "日本"})
                .putArray("a.empty", GGUFValueType.STRING, new String[0]);
        w.addTensor("f32", GGMLType.F32, new long[] {3, 2}, MemorySegment.ofArray(le(F32_DATA)));
        float[] f16src = new float[10];
        for (int i = 0; i < 10; i++) f16src[i] = i * 0.5f - 2;
        w.addTensor("f16", GGMLType.F16, new long[] {10}, Quantizer.quantize(GGMLType.F16, f16src));
        float[] q = new float[64];
        for (int i = 0; i < 64; i++) q[i] = (float) Math.sin(i);
        w.addTensor("q8", GGMLType.Q8_0, new long[] {32, 2}, Quantizer.quantize(GGMLType.Q8_0, q));
        return w;
    }

    static byte[] le(float[] f) {
        ByteBuffer b = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : f) b.putFloat(v);
        return b.array();
    }

    Path write(GGUFWriter w, String name) {
        Path p = dir.resolve(name);
        w.write(p);
        return p;
    }

    @Test
    void everyMetadataTypeRoundTrips() {
        Path p = write(sample(0), "all.gguf");
        try (GGUFFile f = GGUFFile.open(p)) {
            assertThat(f.version()).isEqualTo(3);
            var m = f.metadata();
            assertThat(m.get("t.u8")).isEqualTo(200);
            assertThat(m.get("t.i8")).isEqualTo(-5);
            assertThat(m.get("t.u16")).isEqualTo(60000);
            assertThat(m.get("t.i16")).isEqualTo(-300);
            assertThat(Integer.toUnsignedLong((Integer) m.get("t.u32"))).isEqualTo(0xFFFFFFF0L);
            assertThat(m.get("t.i32")).isEqualTo(-123456);
            assertThat(m.get("t.f32")).isEqualTo(3.25f);
            assertThat(m.get("t.bool")).isEqualTo(true);
            assertThat(m.get("t.str")).isEqualTo("héllo ✓ \u0000 end");
            assertThat(m.get("t.u64")).isEqualTo(1L << 40);
            assertThat(m.get("t.i64")).isEqualTo(-(1L << 50));
            assertThat(m.get("t.f64")).isEqualTo(Math.PI);
            assertThat((int[]) m.get("a.u8")).containsExactly(0, 255, 7);
            assertThat((int[]) m.get("a.i8")).containsExactly(-128, 127);
            assertThat((int[]) m.get("a.u16")).containsExactly(65535, 1);
            assertThat((int[]) m.get("a.i16")).containsExactly(-32768, 32767);
            assertThat((int[]) m.get("a.u32")).containsExactly(-1, 5);
            assertThat((int[]) m.get("a.i32")).containsExactly(Integer.MIN_VALUE, 0, Integer.MAX_VALUE);
            assertThat((long[]) m.get("a.u64")).containsExactly(Long.MAX_VALUE);
            assertThat((long[]) m.get("a.i64")).containsExactly(-1L, Long.MIN_VALUE);
            assertThat((float[]) m.get("a.f32")).containsExactly(0.5f, -1e30f, Float.MIN_VALUE);
            assertThat((double[]) m.get("a.f64")).containsExactly(1e300, -0.0);
            assertThat((boolean[]) m.get("a.bool")).containsExactly(true, false, true);
            assertThat((String[]) m.get("a.str")).containsExactly("<s>", "", "▁the", "日本");
            assertThat((String[]) m.get("a.empty")).isEmpty();
            // types are kept, so a copy writes the same bytes
            assertThat(f.metadataTypes().get("t.u16")).isEqualTo(GGUFValueType.UINT16);
            assertThat(f.metadataTypes().get("a.str")).isEqualTo(GGUFValueType.ARRAY);
            assertThat(f.arrayType("a.str")).isEqualTo(GGUFValueType.STRING);
            assertThat(f.arrayType("a.u64")).isEqualTo(GGUFValueType.UINT64);
            assertThat(f.arrayType("t.str")).isNull();
            // typed getters
            assertThat(f.getInt("t.u16", 0)).isEqualTo(60000);
            assertThat(f.requireString("t.str")).startsWith("héllo");
            assertThat(f.getFloat("t.f64", 0)).isEqualTo((float) Math.PI);
            assertThat(f.getBool("t.bool", false)).isTrue();
            assertThat(f.getArray("a.str", String[].class)).hasSize(4);
            assertThatThrownBy(() -> f.getInt("t.str", 0)).isInstanceOf(ModelFormatException.class).hasMessageContaining("t.str");
            assertThatThrownBy(() -> f.requireInt("missing.key")).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining(p.toString()).hasMessageContaining("missing.key");
        }
    }

    @Test
    void tensorsAreMappedSlicesWithTheWrittenBytes() {
        Path p = write(sample(0), "t.gguf");
        try (GGUFFile f = GGUFFile.open(p)) {
            Tensor t = f.tensor("f32");
            assertThat(t.type()).isEqualTo(GGMLType.F32);
            assertThat(t.shape()).containsExactly(3, 2);
            assertThat(t.cols()).isEqualTo(3);
            assertThat(t.rows()).isEqualTo(2);
            float[] got = t.data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
            assertThat(got).containsExactly(F32_DATA);
            for (Tensor x : f.tensors().values()) {
                assertThat(x.data().isNative()).as(x.name() + " is off-heap").isTrue();
                assertThat(x.data().isMapped()).as(x.name() + " is a slice of the mapping").isTrue();
                assertThat(x.data().heapBase()).isEmpty();
            }
            assertThat(f.tensor("q8").data().byteSize()).isEqualTo(2 * 34);
            assertThat(f.tensor("f16").data().byteSize()).isEqualTo(20);
            assertThatThrownBy(() -> f.tensor("nope")).isInstanceOf(ModelFormatException.class).hasMessageContaining(p.toString()).hasMessageContaining("nope");
        }
    }

    @Test
    void customAlignmentPlacesEveryTensorOnABoundary() throws IOException {
        for (int alignment : new int[] {1, 8, 64, 256}) {
            Path p = write(sample(alignment), "a" + alignment + ".gguf");
            try (GGUFFile f = GGUFFile.open(p)) {
                assertThat(f.alignment()).isEqualTo(alignment);
                assertThat(f.dataOffset() % alignment).isZero();
                MemorySegment whole = MemorySegment.ofArray(Files.readAllBytes(p));
                for (Tensor t : f.tensors().values()) {
                    long off = t.data().address() - f.tensor("f32").data().address() + f.dataOffset();
                    assertThat(off % alignment).as("tensor %s at %d", t.name(), off).isZero();
                    assertThat(whole.asSlice(off, t.data().byteSize()).mismatch(t.data())).isEqualTo(-1);
                }
                assertThat(f.tensor("f32").data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN))).containsExactly(F32_DATA);
            }
        }
    }

    @Test
    void readsVersion2Headers() throws IOException {
        Path p = write(sample(0), "v2.gguf");
        patchInt(p, 4, 2);
        try (GGUFFile f = GGUFFile.open(p)) {
            assertThat(f.version()).isEqualTo(2);
            assertThat(f.metadata().get("t.str")).isEqualTo("héllo ✓ \u0000 end");
            assertThat(f.tensor("f32").data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN))).containsExactly(F32_DATA);
        }
    }

    @Test
    void copyMetadataKeepsTypes() {
        Path p = write(sample(64), "src.gguf");
        try (GGUFFile f = GGUFFile.open(p)) {
            Path q = write(new GGUFWriter().copyMetadata(f), "copy.gguf");
            try (GGUFFile g = GGUFFile.open(q)) {
                assertThat(g.metadataTypes()).isEqualTo(f.metadataTypes());
                assertThat(g.alignment()).isEqualTo(64);
                for (String k : f.metadata().keySet()) {
                    assertThat(g.metadata().get(k)).as(k).isEqualTo(f.metadata().get(k));
                    assertThat(g.arrayType(k)).isEqualTo(f.arrayType(k));
                }
            }
        }
    }

    // ------------------------------------------------------------------ bad input

    @Test
    void wrongMagic() throws IOException {
        Path p = write(sample(0), "m.gguf");
        patchInt(p, 0, 0x4c4c5546);
        assertThatThrownBy(() -> GGUFFile.open(p)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("not a GGUF file");
    }

    @Test
    void unsupportedVersions() throws IOException {
        for (int v : new int[] {0, 1, 4, -1}) {
            Path p = write(sample(0), "v" + v + ".gguf");
            patchInt(p, 4, v);
            assertThatThrownBy(() -> GGUFFile.open(p)).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining(p.toString()).hasMessageContaining("unsupported GGUF version " + v).hasMessageContaining("supported: 2, 3");
        }
    }

    @Test
    void truncatedAtEveryOffsetNamesTheFile() throws IOException {
        Path p = write(sample(0), "full.gguf");
        byte[] all = Files.readAllBytes(p);
        long dataEnd;
        try (GGUFFile f = GGUFFile.open(p)) {
            Tensor last = f.tensor("q8");
            dataEnd = last.data().address() - f.tensor("f32").data().address() + f.dataOffset() + last.data().byteSize();
        }
        Path cut = dir.resolve("cut.gguf");
        for (int n = 0; n < all.length; n++) {
            Files.write(cut, Arrays.copyOf(all, n));
            if (n >= dataEnd) {
                // only trailing padding is missing: still a complete file
                try (GGUFFile f = GGUFFile.open(cut)) {
                    assertThat(f.tensors()).hasSize(3);
                }
                continue;
            }
            final int len = n;
            assertThatThrownBy(() -> GGUFFile.open(cut).close()).as("cut at %d", len)
                    .isExactlyInstanceOf(ModelFormatException.class).hasMessageContaining(cut.toString());
        }
    }

    @Test
    void tensorPastEndOfFile() throws IOException {
        Path p = write(sample(0), "big.gguf");
        // grow the second dimension of "q8" from 2 to 4000 rows: 136 KB of data that is not there
        long dims = tensorInfo(p, "q8") + 4;
        patchLong(p, dims + 8, 4000);
        assertThatThrownBy(() -> GGUFFile.open(p)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("'q8'").hasMessageContaining("extends past the end");
    }

    @Test
    void tensorWhoseSizeIsNotWholeBlocks() throws IOException {
        Path p = write(sample(0), "blocks.gguf");
        long dims = tensorInfo(p, "q8") + 4;
        patchLong(p, dims, 33); // 33 x 2 elements of Q8_0: not whole 32-element blocks
        assertThatThrownBy(() -> GGUFFile.open(p)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("'q8'").hasMessageContaining("block size 32");
    }

    @Test
    void tensorOffsetOverflowIsAFormatError() throws IOException {
        Path p = write(sample(0), "off.gguf");
        long info = tensorInfo(p, "q8");
        patchLong(p, info + 4 + 16 + 4, Long.MAX_VALUE - 3);
        assertThatThrownBy(() -> GGUFFile.open(p)).isInstanceOf(ModelFormatException.class).hasMessageContaining("'q8'");
    }

    @Test
    void unknownTensorTypeId() throws IOException {
        Path p = write(sample(0), "type.gguf");
        long info = tensorInfo(p, "f16");
        patchInt(p, info + 4 + 8, 99);
        assertThatThrownBy(() -> GGUFFile.open(p)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("unknown ggml type id 99").hasMessageContaining("Q8_0");
    }

    @Test
    void unknownMetadataValueType() throws IOException {
        Path p = write(new GGUFWriter().put("k", GGUFValueType.UINT32, 1), "meta.gguf");
        patchInt(p, 24 + 8 + 1, 77);
        assertThatThrownBy(() -> GGUFFile.open(p)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("unknown metadata value type 77");
    }

    /** Random byte flips and truncations: the reader either succeeds or raises ModelFormatException, nothing else. */
    @Test
    void fuzzedFilesOnlyRaiseModelFormatException() throws IOException {
        byte[] good = Files.readAllBytes(write(sample(0), "good.gguf"));
        Random rnd = new Random(42);
        Path f = dir.resolve("fuzz.gguf");
        int ok = 0, rejected = 0;
        for (int iter = 0; iter < 1500; iter++) {
            byte[] b = good.clone();
            int flips = 1 + rnd.nextInt(4);
            for (int i = 0; i < flips; i++) {
                int at = rnd.nextInt(rnd.nextBoolean() ? Math.min(b.length, 700) : b.length); // favour the header
                b[at] = switch (rnd.nextInt(4)) {
                    case 0 -> (byte) rnd.nextInt(256);
                    case 1 -> (byte) (b[at] ^ (1 << rnd.nextInt(8)));
                    case 2 -> (byte) 0xFF;
                    default -> 0;
                };
            }
            if (rnd.nextInt(4) == 0) b = Arrays.copyOf(b, rnd.nextInt(b.length));
            Files.write(f, b);
            try (GGUFFile g = GGUFFile.open(f)) {
                for (Tensor t : g.tensors().values()) {
                    if (t.data().byteSize() > 0) t.data().get(ValueLayout.JAVA_BYTE, t.data().byteSize() - 1);
                }
                ok++;
            } catch (ModelFormatException e) {
                assertThat(e.getMessage()).contains(f.toString());
                rejected++;
            } catch (Throwable t) {
                throw new AssertionError("iteration " + iter + ": " + t, t);
            }
        }
        assertThat(ok + rejected).isEqualTo(1500);
        assertThat(rejected).isPositive();
    }

    /**
     * Regression: a corrupt array length that fits in the (sparse, 3 GiB) file used to pass the
     * bounds check and then raise NegativeArraySizeException (0x90000000 cast to int) or
     * OutOfMemoryError (0x7ffffff0 UINT32 elements); both must be a ModelFormatException naming
     * the file and key.
     */
    @Test
    void hugeArrayLengthInASparseFileIsAFormatErrorNotAnOOMOrNegativeArraySize() throws IOException {
        long[][] cases = {
                {0x90000000L, GGUFValueType.UINT32.ordinal()},
                {0x7ffffff0L, GGUFValueType.UINT32.ordinal()},
                {0x90000000L, GGUFValueType.UINT8.ordinal()},
                {0x7ffffff0L, GGUFValueType.STRING.ordinal()},
                {0x7ffffff0L, GGUFValueType.ARRAY.ordinal()},
        };
        for (long[] c : cases) {
            Path p = sparseWithArray("huge.array", (int) c[1], c[0]);
            assertThatThrownBy(() -> GGUFFile.open(p)).as("length 0x%x of type %d", c[0], c[1])
                    .isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining(p.toString()).hasMessageContaining("huge.array")
                    .hasMessageContaining("corrupt array length " + c[0]);
            Files.delete(p);
        }
    }

    /** Regression: tensor and metadata counts are bounded by their minimum encoded size, not 16/8 bytes. */
    @Test
    void hugeTensorOrMetadataCountInASparseFileIsAFormatError() throws IOException {
        Path p = sparseHeader(0x7ffffff0L, 0, new byte[0]);
        assertThatThrownBy(() -> GGUFFile.open(p)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("corrupt tensor count " + 0x7ffffff0L);
        Files.delete(p);
        Path q = sparseHeader(0, 0x7ffffff0L, new byte[0]);
        assertThatThrownBy(() -> GGUFFile.open(q)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(q.toString()).hasMessageContaining("corrupt metadata count " + 0x7ffffff0L);
    }

    @Test
    void minElementBytesCoversEveryType() {
        for (GGUFValueType t : GGUFValueType.values()) assertThat(GGUFFile.minElementBytes(t)).isPositive();
        assertThat(GGUFFile.minElementBytes(GGUFValueType.STRING)).isEqualTo(8);
        assertThat(GGUFFile.minElementBytes(GGUFValueType.ARRAY)).isEqualTo(12);
    }

    /** A v3 header with one metadata key holding an array of {@code elementType} and length {@code n}, padded sparsely to 3 GiB. */
    Path sparseWithArray(String key, int elementType, long n) throws IOException {
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        ByteBuffer kv = ByteBuffer.allocate(8 + k.length + 4 + 4 + 8).order(ByteOrder.LITTLE_ENDIAN);
        kv.putLong(k.length).put(k).putInt(GGUFValueType.ARRAY.ordinal()).putInt(elementType).putLong(n);
        return sparseHeader(0, 1, kv.array());
    }

    Path sparseHeader(long tensorCount, long kvCount, byte[] rest) throws IOException {
        Path p = dir.resolve("sparse.gguf");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            ByteBuffer h = ByteBuffer.allocate(24 + rest.length).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(GGUFFile.MAGIC).putInt(3).putLong(tensorCount).putLong(kvCount).put(rest);
            f.write(h.array());
            f.setLength(3L << 30);
        }
        return p;
    }

    // ------------------------------------------------------------------ helpers

    /** Byte offset of tensor {@code name}'s n_dims field in the header. */
    static long tensorInfo(Path p, String name) throws IOException {
        byte[] b = Files.readAllBytes(p);
        byte[] key = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(key.length);
        byte[] needle = new byte[8 + key.length];
        System.arraycopy(len.array(), 0, needle, 0, 8);
        System.arraycopy(key, 0, needle, 8, key.length);
        int last = -1;
        outer:
        for (int i = 0; i + needle.length <= b.length; i++) {
            for (int j = 0; j < needle.length; j++) if (b[i + j] != needle[j]) continue outer;
            last = i; // tensor infos come after metadata: take the last match
        }
        if (last < 0) throw new AssertionError("tensor " + name + " not found");
        return last + needle.length;
    }

    static void patchInt(Path p, long at, int v) throws IOException {
        byte[] b = Files.readAllBytes(p);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt((int) at, v);
        Files.write(p, b);
    }

    static void patchLong(Path p, long at, long v) throws IOException {
        byte[] b = Files.readAllBytes(p);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong((int) at, v);
        Files.write(p, b);
    }
}
