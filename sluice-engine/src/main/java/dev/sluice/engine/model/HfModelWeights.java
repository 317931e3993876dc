package dev.sluice.engine.model;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.safetensors.SafetensorsFile;
import dev.sluice.engine.tensor.Tensor;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * {@link ModelWeights} of a Hugging Face checkpoint directory ({@code config.json} plus
 * safetensors). Tensors are renamed to GGUF names but otherwise left exactly as stored: Q/K rows
 * stay in rotate-half order ({@code ropeNeox = true}), dtypes stay F32/F16/BF16.
 */
final class HfModelWeights implements ModelWeights {
    private final Path dir;
    private final SafetensorsFile st;
    private final ModelConfig config;
    private final Map<String, Tensor> tensors;
    private final Map<String, Object> metadata;

    HfModelWeights(Path dir) {
        this.dir = dir;
        this.st = SafetensorsFile.open(dir);
        try {
            this.config = ModelConfigs.fromHfConfig(dir.resolve("config.json"), st::has);
            Map<String, Tensor> ts = new LinkedHashMap<>();
            for (String hf : st.entries().keySet()) {
                String g = TensorNames.fromHf(hf);
                if (g == null) continue;
                if (g.equals(TensorNames.OUTPUT) && config.tiedEmbeddings()) continue;
                Tensor t = st.tensor(hf);
                ts.put(g, new Tensor(g, t.type(), t.shape(), t.data()));
            }
            this.tensors = Collections.unmodifiableMap(ts);
            Map<String, Object> md = new LinkedHashMap<>(ModelConfigs.ggufHparamsMap(config, config.architecture()));
            md.put("general.name", dir.toAbsolutePath().normalize().getFileName() == null ? "model" : dir.toAbsolutePath().normalize().getFileName().toString());
            st.metadata().forEach((k, v) -> md.putIfAbsent("safetensors." + k, v));
            this.metadata = Collections.unmodifiableMap(md);
        } catch (ModelFormatException e) {
            st.close();
            throw e;
        }
    }

    /** The underlying safetensors checkpoint (Hugging Face names). */
    SafetensorsFile safetensors() { return st; }

    @Override public ModelConfig config() { return config; }
    @Override public Optional<Tensor> find(String name) { return Optional.ofNullable(tensors.get(name)); }
    @Override public Map<String, Tensor> tensors() { return tensors; }
    @Override public Map<String, Object> metadata() { return metadata; }
    @Override public Path source() { return dir; }
    @Override public void close() { st.close(); }
}
