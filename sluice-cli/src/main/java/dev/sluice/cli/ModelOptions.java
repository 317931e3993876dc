package dev.sluice.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The options that pick a model, shared by the commands that load one (a picocli mixin). */
public final class ModelOptions {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "MODEL",
            description = "A GGUF file, a Hugging Face model folder (config.json + *.safetensors), a llama2.c .bin, "
                    + "or hf:ORG/REPO[:FILE] to download from the hub.")
    public String model;

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Download cache for hf: models (default: $SLUICE_CACHE or ~/.cache/sluice/hub).")
    public Path cacheDir;

    @Option(names = "--hf-endpoint", paramLabel = "URL",
            description = "Hub base URL (default: $SLUICE_HF_ENDPOINT, $HF_ENDPOINT or https://huggingface.co).")
    public String hfEndpoint;
}
