// One WanAttentionBlock: modulated self-attention (q/k RMSNorm, 3-axis RoPE), cross-attention over
// the embedded text (with its LayerNorm), modulated GELU-tanh FFN; gated residuals in f32.
#pragma once
#include <array>
#include <functional>
#include <string>

#include "core/tensor.h"
#include "io/weight_store.h"
#include "models/dit/dit_config.h"
#include "models/dit/dit_layers.h"
#include "models/dit/timesteps.h"

namespace wan22::models::dit {

// Called with (name, tensor) for every named intermediate when set (e.g. "blocks.3.self_attn").
using DebugHook = std::function<void(const std::string& name, const Tensor& value)>;

// What every block of one forward shares.
struct BlockInputs {
  const TimestepRows* rows = nullptr;  // token -> distinct-timestep row
  const Tensor* e0 = nullptr;          // [U, 6, dim]: time projection per distinct timestep
  const Tensor* context = nullptr;     // [B, text_len, dim]: embedded text
  std::array<int64_t, 3> grid{};       // (F, H, W) of the token grid
  const DebugHook* hook = nullptr;
};

struct Attention {
  Linear q, k, v, o;
  RmsNorm norm_q, norm_k;
  static Attention load(const io::WeightStore& ws, const std::string& prefix, const DitConfig& c,
                        const LoadOptions& opt);
};

class AttentionBlock {
 public:
  static AttentionBlock load(const io::WeightStore& ws, int index, const DitConfig& c, const LoadOptions& opt);
  // x: [B, L, dim] contiguous f32, updated in place.
  void forward(Tensor& x, const BlockInputs& in) const;

 private:
  Tensor self_attention(const Tensor& xin, const BlockInputs& in) const;
  Tensor cross_attention(const Tensor& xn, const BlockInputs& in) const;
  void dump(const BlockInputs& in, const char* what, const Tensor& t) const;

  std::string name_;
  int64_t num_heads_ = 0, head_dim_ = 0;
  double rope_theta_ = 10000.0;
  LayerNorm norm1_, norm2_, norm3_;
  Attention self_attn_, cross_attn_;
  Linear ffn0_, ffn2_;
  Tensor modulation_;  // [1, 6, dim]
};

}  // namespace wan22::models::dit
