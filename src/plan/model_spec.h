// The sizes of a Wan2.2 model that the memory and time models need: the DiT shape (and how many
// experts), the UMT5 encoder shape, the VAE configuration, the latent strides and the workload
// defaults. Presets for the published models, or read from a checkpoint's config files.
#pragma once
#include <string>
#include <vector>

#include "models/vae/vae_config.h"
#include "models/weight_shapes.h"

namespace wan22::plan {

struct ModelSpec {
  std::string name;                 // "ti2v-5b", "t2v-a14b", "i2v-a14b", "demo", or a checkpoint path
  models::DitShape dit;             // one expert
  int experts = 1;                  // A14B: 2 (high-noise and low-noise expert, same shape)
  double expert_boundary = 0.0;     // A14B: fraction of the steps run by the high-noise expert
  models::T5Shape t5;
  int64_t text_len = 512;           // context rows after padding
  models::vae::VaeConfig vae;       // complete (version known)
  // Workload defaults of the model (the official sample settings).
  int default_width = 1280, default_height = 704, default_frames = 121, default_steps = 50;
  double default_guidance = 5.0;
  bool needs_image = false;         // i2v: an input image is encoded by the VAE encoder

  int vae_stride_t() const { return vae.temporal_stride(); }
  int vae_stride_s() const { return vae.spatial_stride(); }
  // Sizes must be multiples of this: VAE spatial stride x DiT patch.
  int size_multiple() const { return vae_stride_s() * static_cast<int>(dit.patch[1]); }
};

// "ti2v-5b" (default), "t2v-a14b", "i2v-a14b", "demo" (the built-in demo model's sizes).
// Throws Error(kInvalidArgument) listing the known names.
ModelSpec model_preset(const std::string& name);
std::vector<std::string> model_presets();

// A checkpoint directory (official or Diffusers layout, or the demo model): the DiT's config.json,
// the VAE and UMT5 sizes read from their weight headers (no weights are loaded).
ModelSpec model_from_checkpoint(const std::string& path);

// A preset name or a checkpoint path.
ModelSpec resolve_model(const std::string& name_or_path);

// The latent grid of a workload: F_lat = (frames - 1) / stride_t + 1, h = H / stride_s, w = W / stride_s.
struct LatentGrid {
  int64_t frames = 0, height = 0, width = 0;
  int64_t tokens = 0;  // F_lat * (h / patch_h) * (w / patch_w)
};
LatentGrid latent_grid(const ModelSpec& m, int width, int height, int frames);

}  // namespace wan22::plan
