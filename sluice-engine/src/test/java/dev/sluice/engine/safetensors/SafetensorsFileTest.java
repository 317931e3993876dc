package dev.sluice.engine.safetensors;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsFileTest {
    @TempDir Path dir;

    static final float[] SIX = {1f, -2f, 0.5f, 3.25f, -0.125f, 100f};

    SafetensorsWriter sample() {
        return new SafetensorsWriter()
                .meta("format", "pt")
                .add("a.f32", "F32", new long[] {2, 3}, SIX)
                .add("b.f16", "F16", new long[] {3, 2}, SIX)
                .add("c.bf16", "BF16", new long[] {6}, SIX)
                .add("d.i64", "I64", new long[] {2}, new byte[16])
                .add("e.scalar", "F32", new long[] {}, new float[] {7f});
    }

    @Test
    void readsSupportedDtypesAsMappedTensorsInGgmlOrder() {
        Path p = sample().write(dir.resolve("m.safetensors"));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.metadata()).containsEntry("format", "pt");
            assertThat(f.entries().keySet()).containsExactly("a.f32", "b.f16", "c.bf16", "d.i64", "e.scalar");
            Tensor a = f.tensor("a.f32");
            assertThat(a.type()).isEqualTo(GGMLType.F32);
            assertThat(a.shape()).containsExactly(3, 2); // safetensors [2, 3] -> ggml {3, 2}
            assertThat(a.rows()).isEqualTo(2);
            assertThat(Dequant.toFloats(a)).containsExactly(SIX);
            Tensor b = f.tensor("b.f16");
            assertThat(b.type()).isEqualTo(GGMLType.F16);
            assertThat(b.shape()).containsExactly(2, 3);
            assertThat(Dequant.toFloats(b)).containsExactly(SIX);
            Tensor c = f.tensor("c.bf16");
            assertThat(c.type()).isEqualTo(GGMLType.BF16);
            assertThat(Dequant.toFloats(c)).containsExactly(SIX);
            assertThat(f.tensor("e.scalar").shape()).containsExactly(1);
            for (String n : new String[] {"a.f32", "b.f16", "c.bf16"}) {
                assertThat(f.tensor(n).data().isMapped()).as(n).isTrue();
                assertThat(f.tensor(n).data().heapBase()).isEmpty();
            }
            assertThat(f.find("zzz")).isEmpty();
            assertThatThrownBy(() -> f.tensor("zzz")).isInstanceOf(ModelFormatException.class).hasMessageContaining(p.toString()).hasMessageContaining("zzz");
        }
    }

    @Test
    void unsupportedDtypeIsATypedErrorListingSupported() {
        Path p = sample().write(dir.resolve("m.safetensors"));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.entries().get("d.i64").dtype()).isEqualTo("I64");
            assertThatThrownBy(() -> f.tensor("d.i64")).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining(p.toString()).hasMessageContaining("d.i64").hasMessageContaining("I64").hasMessageContaining("F32, F16, BF16");
        }
        Path q = new SafetensorsWriter().add("x", "Q9", new long[] {1}, new byte[1]).write(dir.resolve("q.safetensors"));
        assertThatThrownBy(() -> SafetensorsFile.open(q)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("unknown dtype 'Q9'").hasMessageContaining("F32, F16, BF16");
    }

    @Test
    void shardedDirectoryViaIndex() throws IOException {
        new SafetensorsWriter().add("w1", "F32", new long[] {2}, new float[] {1, 2}).write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafetensorsWriter().add("w2", "F16", new long[] {1, 2}, new float[] {3, 4}).write(dir.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(dir.resolve(SafetensorsFile.INDEX_FILE), """
                {"metadata": {"total_size": 12}, "weight_map": {"w1": "model-00001-of-00002.safetensors", "w2": "model-00002-of-00002.safetensors"}}
                """);
        try (SafetensorsFile f = SafetensorsFile.open(dir)) {
            assertThat(f.files()).hasSize(2);
            assertThat(Dequant.toFloats(f.tensor("w1"))).containsExactly(1, 2);
            assertThat(Dequant.toFloats(f.tensor("w2"))).containsExactly(3, 4);
        }
        Files.writeString(dir.resolve(SafetensorsFile.INDEX_FILE), """
                {"weight_map": {"w1": "model-00001-of-00002.safetensors", "w2": "model-00001-of-00002.safetensors"}}
                """);
        assertThatThrownBy(() -> SafetensorsFile.open(dir)).isInstanceOf(ModelFormatException.class).hasMessageContaining("'w2'");
        Files.writeString(dir.resolve(SafetensorsFile.INDEX_FILE), """
                {"weight_map": {"w1": "model-00009-of-00009.safetensors"}}
                """);
        assertThatThrownBy(() -> SafetensorsFile.open(dir)).isInstanceOf(ModelFormatException.class).hasMessageContaining("missing");
    }

    @Test
    void dataOffsetsAreValidatedAgainstDtypeShapeAndFileSize() {
        // shape says 3 F32 (12 bytes) but the offsets span 8
        byte[] bad = raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
        assertThatThrownBy(() -> SafetensorsFile.open(write("size.safetensors", bad))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'x'").hasMessageContaining("needs 12 bytes");
        byte[] past = raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
        assertThatThrownBy(() -> SafetensorsFile.open(write("past.safetensors", past))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'x'").hasMessageContaining("outside the data section");
        byte[] reversed = raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8);
        assertThatThrownBy(() -> SafetensorsFile.open(write("rev.safetensors", reversed))).isInstanceOf(ModelFormatException.class);
        byte[] json = raw("{\"x\":", 0);
        assertThatThrownBy(() -> SafetensorsFile.open(write("json.safetensors", json))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("not valid JSON");
        byte[] hugeHeader = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-5).array();
        assertThatThrownBy(() -> SafetensorsFile.open(write("huge.safetensors", hugeHeader))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("corrupt header length");
    }

    @Test
    void truncatedAtEveryOffset() throws IOException {
        byte[] all = sample().toBytes();
        Path cut = dir.resolve("cut.safetensors");
        for (int n = 0; n < all.length; n++) {
            Files.write(cut, Arrays.copyOf(all, n));
            final int len = n;
            assertThatThrownBy(() -> SafetensorsFile.open(cut).close()).as("cut at %d", len)
                    .isExactlyInstanceOf(ModelFormatException.class).hasMessageContaining(cut.toString());
        }
    }

    @Test
    void fuzzedFilesOnlyRaiseModelFormatException() throws IOException {
        byte[] good = sample().toBytes();
        Random rnd = new Random(3);
        Path f = dir.resolve("fuzz.safetensors");
        int rejected = 0;
        for (int iter = 0; iter < 1500; iter++) {
            byte[] b = good.clone();
            for (int i = 0, n = 1 + rnd.nextInt(3); i < n; i++) {
                int at = rnd.nextInt(b.length);
                b[at] = rnd.nextBoolean() ? (byte) rnd.nextInt(256) : (byte) "0123456789,:[]{}\"-e.".charAt(rnd.nextInt(20));
            }
            if (rnd.nextInt(4) == 0) b = Arrays.copyOf(b, rnd.nextInt(b.length));
            Files.write(f, b);
            try (SafetensorsFile s = SafetensorsFile.open(f)) {
                for (String name : s.entries().keySet()) {
                    try {
                        Tensor t = s.tensor(name);
                        if (t.data().byteSize() > 0) Dequant.toFloats(t);
                    } catch (ModelFormatException e) {
                        assertThat(e.getMessage()).contains("dtype");
                    }
                }
            } catch (ModelFormatException e) {
                rejected++;
            } catch (Throwable t) {
                throw new AssertionError("iteration " + iter + ": " + t, t);
            }
        }
        assertThat(rejected).isPositive();
    }

    static byte[] raw(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return b.array();
    }

    Path write(String name, byte[] b) {
        try {
            return Files.write(dir.resolve(name), b);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }
}
