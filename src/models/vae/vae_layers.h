// Layers shared by the Wan2.1 and Wan2.2 VAEs (vae2_1.py / vae2_2.py), built from official key
// names under a prefix: CausalConv3d, RMS_norm, ResidualBlock, AttentionBlock, Resample.
// Activations are [N, C, T, H, W] float32.
#pragma once
#include <array>
#include <optional>
#include <string>

#include "core/tensor.h"
#include "io/weight_store.h"
#include "models/vae/vae_cache.h"

namespace wan22::models::vae {

// nn.Conv3d with the causal time padding of CausalConv3d: (2*pt, 0) in time, (ph, ph), (pw, pw).
struct CausalConv3d {
  Tensor weight;  // [O, C, kt, kh, kw]
  Tensor bias;    // [O]
  std::array<int, 3> stride{1, 1, 1};
  std::array<int, 3> padding{0, 0, 0};  // the module's (pt, ph, pw)

  // Loads `<prefix>weight` [out, in, k...] and `<prefix>bias` [out].
  static CausalConv3d load(const io::WeightStore& ws, const std::string& prefix, int64_t in, int64_t out,
                           std::array<int, 3> kernel, std::array<int, 3> padding,
                           std::array<int, 3> stride = {1, 1, 1});
  // CausalConv3d.forward(x, cache_x): the cached frames replace part of the front time padding.
  Tensor forward(const Tensor& x, const Tensor* cache_frames = nullptr) const;
  int64_t out_channels() const { return weight.dim(0); }
};

// The recurring pattern of the reference: run `conv` on x with its cache slot, then store the
// last CACHE_T frames of x (padded with the previous slot's last frame when x has only one).
// Without a cache (nullptr) this is the plain causal convolution.
Tensor cached_causal_conv(const CausalConv3d& conv, const Tensor& x, FeatCache* cache);

// RMS_norm: F.normalize(x, dim=1) * sqrt(C) * gamma (no bias in Wan's VAE).
struct RmsNorm {
  Tensor gamma;  // [C, 1, 1, 1] (images=False) or [C, 1, 1] (images=True), used as [C, 1, 1, 1]
  static RmsNorm load(const io::WeightStore& ws, const std::string& key, int64_t dim, bool images);
  Tensor forward(const Tensor& x) const;
};

// residual: RMS_norm, SiLU, CausalConv3d(3), RMS_norm, SiLU, (Dropout), CausalConv3d(3);
// shortcut: CausalConv3d(1) when in != out.
struct ResidualBlock {
  RmsNorm norm1, norm2;
  CausalConv3d conv1, conv2;
  std::optional<CausalConv3d> shortcut;
  static ResidualBlock load(const io::WeightStore& ws, const std::string& prefix, int64_t in, int64_t out);
  Tensor forward(const Tensor& x, FeatCache* cache) const;
};

// Single-head self-attention over the H*W positions of each frame (no cache).
struct AttentionBlock {
  RmsNorm norm;
  Tensor qkv_w, qkv_b;    // [3C, C], [3C]
  Tensor proj_w, proj_b;  // [C, C], [C]
  static AttentionBlock load(const io::WeightStore& ws, const std::string& prefix, int64_t dim);
  Tensor forward(const Tensor& x) const;
};

enum class ResampleMode { kUpsample2d, kUpsample3d, kDownsample2d, kDownsample3d };

// Resample: 2x nearest upsampling + 3x3 conv (and a temporal conv that doubles the frames), or a
// zero-pad (0,1,0,1) + 3x3 stride-2 conv (and a stride-2 temporal conv over the cached frame).
// up_out: the output width of the upsampling conv (Wan2.2: dim, Wan2.1: dim / 2).
struct Resample {
  ResampleMode mode = ResampleMode::kUpsample2d;
  int64_t dim = 0;
  CausalConv3d spatial;                  // the 3x3 conv as a [O, C, 1, 3, 3] kernel
  std::optional<CausalConv3d> time_conv;
  static Resample load(const io::WeightStore& ws, const std::string& prefix, int64_t dim, ResampleMode mode,
                       int64_t up_out);
  Tensor forward(const Tensor& x, FeatCache* cache) const;
  int64_t out_channels() const { return spatial.out_channels(); }
};

}  // namespace wan22::models::vae
