// WanVae: the Wan2.1 / Wan2.2 video VAE (official WanVAE_ of vae2_1.py / vae2_2.py), encode and
// decode in causal time chunks exactly as the reference: encode takes the first frame, then 4
// frames at a time; decode one latent frame at a time; each causal conv keeps the last 2 frames
// of its input between chunks (FeatCache), so memory does not grow with the video length.
//
//   auto vae = WanVae::open("Wan2.2_VAE.pth");            // or a Diffusers vae/ directory
//   Tensor z = vae.encode(video);                         // [1,3,F,H,W] in [-1,1] -> normalised mu
//   Tensor v = vae.decode(z);                             // -> [1,3,F,H,W], raw (not clamped)
//
// Latents are normalised per channel as the official pipeline does: (mu - mean) / std. Diffusers'
// AutoencoderKLWan returns and takes raw latents (its pipeline normalises): LatentScaling::kRaw.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "core/tensor.h"
#include "io/weight_store.h"
#include "models/vae/vae_config.h"
#include "models/vae/vae_layers.h"

namespace wan22::models::vae {

class Encoder3d;
class Decoder3d;

enum class LatentScaling {
  kNormalized,  // official Wan2_x_VAE.encode/decode: (mu - mean) / std
  kRaw,         // the model's mu (Diffusers latent_dist.mode())
};

// Receives decoded frames as they are produced: [N, C, f, H, W] (f = 1 for the first latent
// frame, then temporal_stride() frames per latent frame), raw (not clamped).
using FrameSink = std::function<void(const Tensor& frames)>;

class WanVae {
 public:
  // Builds every layer from ws (official key names: install a key map first for other layouts).
  // Missing fields of cfg (version, sizes, latent statistics) are completed from the weights.
  // Throws Error naming the key / shape / config field on bad input.
  WanVae(const io::WeightStore& ws, VaeConfig cfg);
  ~WanVae();
  WanVae(WanVae&&) noexcept;
  WanVae& operator=(WanVae&&) noexcept;

  // Opens weights and their configuration: a Diffusers directory (config.json + safetensors), or a
  // weights file (.safetensors / .pth) with an optional "<stem>_config.json" next to it; without
  // a config everything is read from the weights (official checkpoints).
  static WanVae open(const std::string& path);
  // Weights + an explicit config file (official or Diffusers JSON); config_path may be empty.
  static WanVae open(const std::string& weights_path, const std::string& config_path);

  const VaeConfig& config() const { return cfg_; }
  // How the weight names were resolved when built through open(): "official", "diffusers", ...
  const std::string& layout() const { return layout_; }

  // video [N, C, F, H, W] (or [C, F, H, W]) in [-1, 1]; F = 1 + 4k when the VAE downsamples
  // time; H, W multiples of spatial_stride(). Returns mu [N, z, 1 + (F-1)/4, H/s, W/s].
  Tensor encode(const Tensor& video, LatentScaling scaling = LatentScaling::kNormalized) const;
  // latent [N, z, T, h, w] (or [z, T, h, w]) -> video [N, C, 1 + 4(T-1), h*s, w*s], not clamped.
  Tensor decode(const Tensor& latent, LatentScaling scaling = LatentScaling::kNormalized) const;
  // decode() clamped to [-1, 1] (what Wan2_x_VAE.decode returns).
  Tensor decode_clamped(const Tensor& latent, LatentScaling scaling = LatentScaling::kNormalized) const;
  // Streams the decoded frames of one latent [1, z, T, h, w] (or [z, T, h, w]) to `sink` chunk by
  // chunk instead of concatenating them.
  void decode_stream(const Tensor& latent, const FrameSink& sink,
                     LatentScaling scaling = LatentScaling::kNormalized) const;

  // Latent normalisation: (mu - mean) * (1 / std) and its inverse z / (1 / std) + mean, per
  // channel (dim 1 of [N, z, ...]), with the float32 arithmetic of the reference.
  Tensor normalize_latent(const Tensor& mu) const;
  Tensor denormalize_latent(const Tensor& z) const;

 private:
  Tensor encode_one(const Tensor& video) const;  // [1, C, F, H, W] -> raw mu
  void decode_one(const Tensor& latent_raw, const FrameSink& sink) const;

  VaeConfig cfg_;
  std::string layout_ = "official";
  std::unique_ptr<Encoder3d> encoder_;
  std::unique_ptr<Decoder3d> decoder_;
  CausalConv3d quant_conv_;       // official "conv1": [2z, 2z, 1, 1, 1] after the encoder
  CausalConv3d post_quant_conv_;  // official "conv2": [z, z, 1, 1, 1] before the decoder
};

}  // namespace wan22::models::vae
