// Decoder3d of the Wan VAEs (official key names under "decoder."): conv1, the middle (res,
// attention, res), the up blocks (Wan2.2: Up_ResidualBlock with the DupUp3D shortcut; Wan2.1: a
// flat list of residual blocks and resamples whose upsampling conv halves the width) and the head.
#pragma once
#include <optional>
#include <variant>
#include <vector>

#include "io/weight_store.h"
#include "models/vae/vae_config.h"
#include "models/vae/vae_layers.h"

namespace wan22::models::vae {

class Decoder3d {
 public:
  // cfg must be complete (validate() passes). Throws Error naming a missing key / wrong shape.
  Decoder3d(const io::WeightStore& ws, const VaeConfig& cfg);
  // x [N, z_dim, T, h, w] (after conv2) -> [N, in_channels * p^2, T', h * 2^(L-1), ...].
  // first_chunk: the first latent frame of a video (Wan2.2's DupUp3D drops its leading frames).
  Tensor forward(const Tensor& x, FeatCache* cache, bool first_chunk) const;

 private:
  struct UpBlock {  // Wan2.2 Up_ResidualBlock
    std::vector<ResidualBlock> res;
    std::optional<Resample> up;
    bool shortcut = false;
    int64_t out = 0;
    int factor_t = 1, factor_s = 1;
  };
  using FlatLayer = std::variant<ResidualBlock, Resample>;  // Wan2.1 upsamples[k]

  VaeVersion version_;
  CausalConv3d conv1_;
  ResidualBlock mid0_, mid2_;
  AttentionBlock mid_attn_;
  std::vector<UpBlock> blocks_;
  std::vector<FlatLayer> flat_;
  RmsNorm head_norm_;
  CausalConv3d head_conv_;
};

}  // namespace wan22::models::vae
