package dev.sluice.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The options that pick a model, shared by the commands that load one (a picocli mixin). */
public final class ModelOptions {
    @Option(names = {"-m", "--model"}, paramLabel = "MODEL",
            description = "A GGUF file, a Hugging Face model folder (config.json + *.safetensors), a llama2.c .bin, "
                    + "or hf:ORG/REPO[:FILE] to download from the hub (default: the built-in demo model).")
    public String model;

    /** The model's local path: downloaded when {@code hf:}, the built-in demo model when none was given. */
    public java.nio.file.Path resolve(java.util.Map<String, String> env, java.io.PrintWriter err) {
        if (model == null) return DemoModel.path(env);
        return ModelResolver.of(this, env, err).resolve(model);
    }

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Download cache for hf: models (default: $SLUICE_CACHE or ~/.cache/sluice/hub).")
    public Path cacheDir;

    @Option(names = "--hf-endpoint", paramLabel = "URL",
            description = "Hub base URL (default: $SLUICE_HF_ENDPOINT, $HF_ENDPOINT or https://huggingface.co).")
    public String hfEndpoint;
}
