package dev.sluice.engine.runtime;

import dev.sluice.engine.bench.RandomTensors;

import dev.sluice.engine.model.ModelConfig;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.model.TensorNames;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

/** A model with random weights of one type, held in memory, for forward-pass tests. */
final class RandomModel implements ModelWeights {
    private final ModelConfig config;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    RandomModel(ModelConfig config, GGMLType type, long seed) {
        this.config = config;
        SplittableRandom rnd = new SplittableRandom(seed);
        for (var e : TensorNames.expectedShapes(config).entrySet()) {
            long[] shape = e.getValue();
            String name = e.getKey();
            if (shape.length == 1) {
                float[] v = new float[(int) shape[0]];
                boolean norm = name.endsWith("norm.weight");
                for (int i = 0; i < v.length; i++) v[i] = norm ? 1f + 0.1f * RandomTensors.gauss(rnd) : 0.1f * RandomTensors.gauss(rnd);
                tensors.put(name, RandomTensors.vector(name, v));
            } else {
                float scale = (float) (1 / Math.sqrt(shape[0]));
                tensors.put(name, RandomTensors.random(name, name.equals(TensorNames.TOKEN_EMBD) ? GGMLType.F32 : type,
                        (int) shape[0], (int) shape[1], name.equals(TensorNames.TOKEN_EMBD) ? 1f : scale, rnd));
            }
        }
    }

    /** Two layers, 4 query heads over 2 kv heads; K-quant models need width 256. */
    static ModelConfig config(String arch, int width, boolean qkvBias, boolean qkNorm, boolean neox, int window) {
        int headDim = width >= 256 ? 64 : 32; // K-quant rows (qDim = 4 * headDim) must be whole 256-blocks
        return new ModelConfig(arch, width, 2, 4, 2, headDim, 2 * width, 97, 512, 1e-5f, 10000f, neox, null,
                qkvBias, qkNorm, false, window);
    }

    @Override public ModelConfig config() { return config; }
    @Override public Optional<Tensor> find(String ggufName) { return Optional.ofNullable(tensors.get(ggufName)); }
    @Override public Map<String, Tensor> tensors() { return tensors; }
    @Override public Map<String, Object> metadata() { return Map.of("general.architecture", config.architecture()); }
    @Override public Path source() { return Path.of("memory:random"); }
    @Override public void close() {}
}
