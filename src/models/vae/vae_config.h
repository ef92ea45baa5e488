// Configuration of the Wan video VAEs: Wan2.1 (4x8x8, z 16, `vae2_1.py`) and Wan2.2 (4x16x16 with
// the 2x2 patchify, z 48, residual down/up blocks, `vae2_2.py`).
//
// Sources, in order of preference:
//  - an official-style JSON (`vae_config.json`: dim, dec_dim, z_dim, dim_mult, num_res_blocks,
//    attn_scales, temperal_downsample, latents_mean, latents_std),
//  - a Diffusers `vae/config.json` (AutoencoderKLWan: base_dim, decoder_base_dim, is_residual,
//    in_channels, out_channels, patch_size, ...),
//  - the weights alone (the official Wan2.2_VAE.pth / Wan2.1_VAE.pth ship without a config): sizes
//    are read from the tensor shapes and the latent statistics are the official constants.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "io/weight_store.h"

namespace wan22::models::vae {

enum class VaeVersion { kUnknown, kWan21, kWan22 };
const char* vae_version_name(VaeVersion v);

struct VaeConfig {
  VaeVersion version = VaeVersion::kUnknown;  // kUnknown: detected from the weights at load
  int dim = 0;                                // encoder base width
  int dec_dim = 0;                            // decoder base width (Wan2.1: = dim)
  int z_dim = 0;                              // latent channels
  std::vector<int> dim_mult = {1, 2, 4, 4};
  int num_res_blocks = 2;
  std::vector<double> attn_scales;            // must be empty (the official code cannot run others)
  std::vector<bool> temperal_downsample = {false, true, true};
  std::vector<float> latents_mean;            // [z_dim]
  std::vector<float> latents_std;             // [z_dim]
  int patch_size = 0;                         // 0: by version (Wan2.2: 2, Wan2.1: 1)
  int in_channels = 3;                        // video channels (before patchify)

  int patch() const { return patch_size > 0 ? patch_size : (version == VaeVersion::kWan22 ? 2 : 1); }
  // Compression factors: time 2^(number of temporal downsamples), space 2^(levels-1) * patch.
  int temporal_stride() const;
  int spatial_stride() const;
  // Throws Error(kInvalidArgument) naming the field when something is inconsistent.
  void validate() const;
};

// Parses an official or Diffusers JSON object. `source` names the file for error messages.
// The version is set when the JSON says it (Diffusers `is_residual`); else left kUnknown.
VaeConfig vae_config_from_json(const nlohmann::json& j, const std::string& source);
VaeConfig vae_config_from_file(const std::string& path);

// Version from the key names of `ws` (official names; install the key map first).
VaeVersion detect_vae_version(const io::WeightStore& ws);
// Everything from the weights (official names): widths, levels, res blocks, temporal
// downsampling; latents mean/std = the official constants for z_dim 48 (Wan2.2) / 16 (Wan2.1),
// left empty for other z_dim (validate() then asks for a config).
VaeConfig vae_config_from_weights(const io::WeightStore& ws);
// Fills what `cfg` leaves open (version, dec_dim, latent stats) from the weights.
VaeConfig complete_vae_config(VaeConfig cfg, const io::WeightStore& ws);

// The published configurations.
VaeConfig official_wan22_vae_config();  // dim 160, dec_dim 256, z 48
VaeConfig official_wan21_vae_config();  // dim 96, z 16

}  // namespace wan22::models::vae
