#include "models/vae/vae_encoder.h"

#include "core/status.h"
#include "models/vae/vae_reshape.h"
#include "ops/ops.h"

namespace wan22::models::vae {

Encoder3d::Encoder3d(const io::WeightStore& ws, const VaeConfig& cfg) : version_(cfg.version) {
  const std::string pre = "encoder.";
  const int levels = static_cast<int>(cfg.dim_mult.size());
  std::vector<int64_t> dims = {cfg.dim};
  for (int m : cfg.dim_mult) dims.push_back(static_cast<int64_t>(cfg.dim) * m);
  const int64_t in_ch = static_cast<int64_t>(cfg.in_channels) * cfg.patch() * cfg.patch();

  conv1_ = CausalConv3d::load(ws, pre + "conv1.", in_ch, dims[0], {3, 3, 3}, {1, 1, 1});

  int flat_index = 0;
  for (int i = 0; i < levels; ++i) {
    int64_t in = dims[i];
    const int64_t out = dims[i + 1];
    const bool t_down = i < static_cast<int>(cfg.temperal_downsample.size()) && cfg.temperal_downsample[i];
    const bool down_flag = i != levels - 1;
    const ResampleMode mode = t_down ? ResampleMode::kDownsample3d : ResampleMode::kDownsample2d;
    if (version_ == VaeVersion::kWan22) {
      const std::string bp = pre + "downsamples." + std::to_string(i) + ".downsamples.";
      DownBlock b;
      b.out = out;
      b.factor_t = t_down ? 2 : 1;
      b.factor_s = down_flag ? 2 : 1;
      for (int j = 0; j < cfg.num_res_blocks; ++j) {
        b.res.push_back(ResidualBlock::load(ws, bp + std::to_string(j) + ".", in, out));
        in = out;
      }
      if (down_flag) b.down = Resample::load(ws, bp + std::to_string(cfg.num_res_blocks) + ".", out, mode, out);
      blocks_.push_back(std::move(b));
    } else {
      for (int j = 0; j < cfg.num_res_blocks; ++j) {
        flat_.emplace_back(ResidualBlock::load(ws, pre + "downsamples." + std::to_string(flat_index++) + ".", in, out));
        in = out;
      }
      if (down_flag) {
        flat_.emplace_back(Resample::load(ws, pre + "downsamples." + std::to_string(flat_index++) + ".", out, mode, out));
      }
    }
  }
  const int64_t top = dims.back();
  mid0_ = ResidualBlock::load(ws, pre + "middle.0.", top, top);
  mid_attn_ = AttentionBlock::load(ws, pre + "middle.1.", top);
  mid2_ = ResidualBlock::load(ws, pre + "middle.2.", top, top);
  head_norm_ = RmsNorm::load(ws, pre + "head.0.gamma", top, false);
  head_conv_ = CausalConv3d::load(ws, pre + "head.2.", top, 2 * static_cast<int64_t>(cfg.z_dim), {3, 3, 3}, {1, 1, 1});
}

Tensor Encoder3d::forward(const Tensor& input, FeatCache* cache) const {
  Tensor x = cached_causal_conv(conv1_, input, cache);
  if (version_ == VaeVersion::kWan22) {
    for (const DownBlock& b : blocks_) {
      Tensor shortcut = avg_down_3d(x, b.out, b.factor_t, b.factor_s);
      for (const ResidualBlock& r : b.res) x = r.forward(x, cache);
      if (b.down) x = b.down->forward(x, cache);
      x = ops::add(x, shortcut);
    }
  } else {
    for (const FlatLayer& layer : flat_) {
      if (const auto* r = std::get_if<ResidualBlock>(&layer)) {
        x = r->forward(x, cache);
      } else {
        x = std::get<Resample>(layer).forward(x, cache);
      }
    }
  }
  x = mid0_.forward(x, cache);
  x = mid_attn_.forward(x);
  x = mid2_.forward(x, cache);
  x = ops::silu(head_norm_.forward(x));
  return cached_causal_conv(head_conv_, x, cache);
}

}  // namespace wan22::models::vae
