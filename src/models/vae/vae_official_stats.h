// Per-channel latent mean/std of the published checkpoints (48 values for Wan2.2, 16 for Wan2.1).
#pragma once
#include <vector>

namespace wan22::models::vae {

const std::vector<float>& official_wan22_latents_mean();
const std::vector<float>& official_wan22_latents_std();
const std::vector<float>& official_wan21_latents_mean();
const std::vector<float>& official_wan21_latents_std();

}  // namespace wan22::models::vae
