package dev.sluice.engine.convert;

import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.model.ReferenceModels;
import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Quantizer;
import dev.sluice.engine.tensor.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GGUFQuantizeTest {
    @TempDir Path tmp;

    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"Q8_0", "Q4_0"})
    void quantizesMatricesKeepsVectorsAndMetadata(GGMLType type) {
        // committed under src/test/resources/reference: absence is a failure, not a skip
        Path dir = ReferenceModels.dir("qwen2").orElseThrow(() -> new AssertionError("reference fixture qwen2 missing"));
        Path f32 = tmp.resolve("f32.gguf"), q = tmp.resolve("q.gguf");
        SafetensorsToGGUF.convert(dir, f32, GGMLType.F32);
        GGUFQuantize.quantize(f32, q, type);
        try (GGUFFile src = GGUFFile.open(f32); GGUFFile dst = GGUFFile.open(q)) {
            for (String k : src.metadata().keySet()) {
                if (k.equals("general.file_type") || k.equals("general.quantization_version")) continue;
                assertThat(dst.metadata().get(k)).as(k).isEqualTo(src.metadata().get(k));
                assertThat(dst.metadataTypes().get(k)).as(k).isEqualTo(src.metadataTypes().get(k));
            }
            assertThat(dst.getInt("general.file_type", -1)).isEqualTo(type == GGMLType.Q8_0 ? 7 : 2);
            assertThat(dst.getInt("general.quantization_version", -1)).isEqualTo(2);
            for (Tensor s : src.tensors().values()) {
                Tensor d = dst.tensor(s.name());
                assertThat(d.shape()).containsExactly(s.shape());
                if (s.shape().length == 1) {
                    assertThat(d.type()).isEqualTo(GGMLType.F32);
                    assertThat(d.data().mismatch(s.data())).isEqualTo(-1);
                } else {
                    assertThat(d.type()).as(s.name()).isEqualTo(type);
                    assertThat(d.data().mismatch(Quantizer.quantize(type, Dequant.toFloats(s)))).as(s.name()).isEqualTo(-1);
                }
            }
        }
        try (ModelWeights a = ModelLoader.load(f32); ModelWeights b = ModelLoader.load(q)) {
            assertThat(b.config()).isEqualTo(a.config());
        }
        assertThatThrownBy(() -> GGUFQuantize.quantize(f32, f32, type)).isInstanceOf(IllegalArgumentException.class);
    }
}
