#include "models/vae/vae_decoder.h"

#include "core/status.h"
#include "models/vae/vae_reshape.h"
#include "ops/ops.h"

namespace wan22::models::vae {

Decoder3d::Decoder3d(const io::WeightStore& ws, const VaeConfig& cfg) : version_(cfg.version) {
  const std::string pre = "decoder.";
  const int levels = static_cast<int>(cfg.dim_mult.size());
  // dims = [dim * u for u in [dim_mult[-1]] + dim_mult[::-1]]
  std::vector<int64_t> dims = {static_cast<int64_t>(cfg.dec_dim) * cfg.dim_mult.back()};
  for (int i = levels - 1; i >= 0; --i) dims.push_back(static_cast<int64_t>(cfg.dec_dim) * cfg.dim_mult[i]);
  std::vector<bool> t_up_flags(cfg.temperal_downsample.rbegin(), cfg.temperal_downsample.rend());
  const int64_t out_ch = static_cast<int64_t>(cfg.in_channels) * cfg.patch() * cfg.patch();

  conv1_ = CausalConv3d::load(ws, pre + "conv1.", cfg.z_dim, dims[0], {3, 3, 3}, {1, 1, 1});
  mid0_ = ResidualBlock::load(ws, pre + "middle.0.", dims[0], dims[0]);
  mid_attn_ = AttentionBlock::load(ws, pre + "middle.1.", dims[0]);
  mid2_ = ResidualBlock::load(ws, pre + "middle.2.", dims[0], dims[0]);

  int flat_index = 0;
  int64_t out = dims[0];
  for (int i = 0; i < levels; ++i) {
    int64_t in = dims[i];
    out = dims[i + 1];
    const bool t_up = i < static_cast<int>(t_up_flags.size()) && t_up_flags[i];
    const bool up_flag = i != levels - 1;
    const ResampleMode mode = t_up ? ResampleMode::kUpsample3d : ResampleMode::kUpsample2d;
    if (version_ == VaeVersion::kWan22) {
      const std::string bp = pre + "upsamples." + std::to_string(i) + ".upsamples.";
      UpBlock b;
      b.out = out;
      b.shortcut = up_flag;
      b.factor_t = t_up ? 2 : 1;
      b.factor_s = up_flag ? 2 : 1;
      for (int j = 0; j < cfg.num_res_blocks + 1; ++j) {
        b.res.push_back(ResidualBlock::load(ws, bp + std::to_string(j) + ".", in, out));
        in = out;
      }
      if (up_flag) b.up = Resample::load(ws, bp + std::to_string(cfg.num_res_blocks + 1) + ".", out, mode, out);
      blocks_.push_back(std::move(b));
    } else {
      // the previous level's upsampling conv halved the width (as vae2_1.py: i in 1, 2, 3)
      if (i == 1 || i == 2 || i == 3) in = in / 2;
      for (int j = 0; j < cfg.num_res_blocks + 1; ++j) {
        flat_.emplace_back(ResidualBlock::load(ws, pre + "upsamples." + std::to_string(flat_index++) + ".", in, out));
        in = out;
      }
      if (up_flag) {
        flat_.emplace_back(
            Resample::load(ws, pre + "upsamples." + std::to_string(flat_index++) + ".", out, mode, out / 2));
      }
    }
  }
  head_norm_ = RmsNorm::load(ws, pre + "head.0.gamma", out, false);
  head_conv_ = CausalConv3d::load(ws, pre + "head.2.", out, out_ch, {3, 3, 3}, {1, 1, 1});
}

Tensor Decoder3d::forward(const Tensor& input, FeatCache* cache, bool first_chunk) const {
  Tensor x = cached_causal_conv(conv1_, input, cache);
  x = mid0_.forward(x, cache);
  x = mid_attn_.forward(x);
  x = mid2_.forward(x, cache);
  if (version_ == VaeVersion::kWan22) {
    for (const UpBlock& b : blocks_) {
      Tensor shortcut;
      if (b.shortcut) shortcut = dup_up_3d(x, b.out, b.factor_t, b.factor_s, first_chunk);
      Tensor main = x;
      for (const ResidualBlock& r : b.res) main = r.forward(main, cache);
      if (b.up) main = b.up->forward(main, cache);
      x = b.shortcut ? ops::add(main, shortcut) : main;
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
  x = ops::silu(head_norm_.forward(x));
  return cached_causal_conv(head_conv_, x, cache);
}

}  // namespace wan22::models::vae
