// The built-in demo model: a tiny TI2V-architecture checkpoint with random weights, written in the
// official directory layout, so `wan22 generate` works on a fresh machine with no downloads.
// The output is noise-like video: it demonstrates the pipeline, not the model.
#pragma once
#include <cstdint>
#include <string>

namespace wan22::pipeline {

constexpr const char* kDemoMarker = "wan22-demo-model.json";

// Writes the demo model into `dir` unless a complete one is already there; returns `dir`.
// Deterministic for a given seed. Files: config.json + diffusion_pytorch_model.safetensors (DiT),
// Wan2.2_VAE.safetensors + vae_config.json, models_t5_umt5-xxl-enc-bf16.safetensors +
// t5_config.json, google/umt5-xxl/spiece.model (a small sentencepiece model trained here), and the
// marker file.
std::string ensure_demo_model(const std::string& dir, uint64_t seed = 2025);

// Default location: $WAN22_DEMO_MODEL, else $XDG_CACHE_HOME/wan22/demo-model, else
// ~/.cache/wan22/demo-model, else /tmp/wan22-demo-model.
std::string default_demo_model_dir();

bool is_demo_model(const std::string& dir);

}  // namespace wan22::pipeline
