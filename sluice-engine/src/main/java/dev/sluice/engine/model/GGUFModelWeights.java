package dev.sluice.engine.model;

import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.tensor.Tensor;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/** {@link ModelWeights} of a GGUF file: its tensors and metadata as they are. */
final class GGUFModelWeights implements ModelWeights {
    private final GGUFFile file;
    private final ModelConfig config;

    GGUFModelWeights(GGUFFile file) {
        this.file = file;
        this.config = ModelConfigs.fromGguf(file);
    }

    GGUFFile file() { return file; }

    @Override public ModelConfig config() { return config; }
    @Override public Optional<Tensor> find(String name) { return Optional.ofNullable(file.tensors().get(name)); }
    @Override public Map<String, Tensor> tensors() { return file.tensors(); }
    @Override public Map<String, Object> metadata() { return file.metadata(); }
    @Override public Path source() { return file.path(); }
    @Override public void close() { file.close(); }
}
