// Encoder3d of the Wan VAEs (official key names under "encoder."): conv1, the down blocks
// (Wan2.2: Down_ResidualBlock with the AvgDown3D shortcut; Wan2.1: a flat list of residual blocks
// and resamples), the middle (res, attention, res) and the head (RMS_norm, SiLU, conv).
#pragma once
#include <optional>
#include <variant>
#include <vector>

#include "io/weight_store.h"
#include "models/vae/vae_config.h"
#include "models/vae/vae_layers.h"

namespace wan22::models::vae {

class Encoder3d {
 public:
  // cfg must be complete (validate() passes). Throws Error naming a missing key / wrong shape.
  Encoder3d(const io::WeightStore& ws, const VaeConfig& cfg);
  // x [N, in_channels * p^2, T, H, W] (already patchified) -> [N, 2 * z_dim, T', H / 2^(L-1), ...].
  Tensor forward(const Tensor& x, FeatCache* cache) const;

 private:
  struct DownBlock {  // Wan2.2 Down_ResidualBlock
    std::vector<ResidualBlock> res;
    std::optional<Resample> down;
    int64_t out = 0;
    int factor_t = 1, factor_s = 1;
  };
  using FlatLayer = std::variant<ResidualBlock, Resample>;  // Wan2.1 downsamples[k]

  VaeVersion version_;
  CausalConv3d conv1_;
  std::vector<DownBlock> blocks_;
  std::vector<FlatLayer> flat_;
  ResidualBlock mid0_, mid2_;
  AttentionBlock mid_attn_;
  RmsNorm head_norm_;
  CausalConv3d head_conv_;
};

}  // namespace wan22::models::vae
