#include "models/dit/attention_block.h"

#include "ops/ops.h"

namespace wan22::models::dit {

Attention Attention::load(const io::WeightStore& ws, const std::string& prefix, const DitConfig& c,
                          const LoadOptions& opt) {
  Attention a;
  a.q = Linear::load(ws, prefix + ".q", c.dim, c.dim, opt);
  a.k = Linear::load(ws, prefix + ".k", c.dim, c.dim, opt);
  a.v = Linear::load(ws, prefix + ".v", c.dim, c.dim, opt);
  a.o = Linear::load(ws, prefix + ".o", c.dim, c.dim, opt);
  a.norm_q = RmsNorm::load(ws, prefix + ".norm_q", c.dim, static_cast<float>(c.eps), c.qk_norm);
  a.norm_k = RmsNorm::load(ws, prefix + ".norm_k", c.dim, static_cast<float>(c.eps), c.qk_norm);
  return a;
}

AttentionBlock AttentionBlock::load(const io::WeightStore& ws, int index, const DitConfig& c,
                                    const LoadOptions& opt) {
  AttentionBlock b;
  b.name_ = "blocks." + std::to_string(index);
  const std::string& p = b.name_;
  const float eps = static_cast<float>(c.eps);
  b.num_heads_ = c.num_heads;
  b.head_dim_ = c.head_dim();
  b.rope_theta_ = c.rope_theta;
  b.norm1_ = LayerNorm::plain(eps);
  b.norm2_ = LayerNorm::plain(eps);
  b.norm3_ = c.cross_attn_norm ? LayerNorm::load(ws, p + ".norm3", c.dim, eps) : LayerNorm::identity();
  b.self_attn_ = Attention::load(ws, p + ".self_attn", c, opt);
  b.cross_attn_ = Attention::load(ws, p + ".cross_attn", c, opt);
  b.ffn0_ = Linear::load(ws, p + ".ffn.0", c.ffn_dim, c.dim, opt);
  b.ffn2_ = Linear::load(ws, p + ".ffn.2", c.dim, c.ffn_dim, opt);
  b.modulation_ = ws.get_f32(p + ".modulation", {1, 6, c.dim});
  return b;
}

void AttentionBlock::dump(const BlockInputs& in, const char* what, const Tensor& t) const {
  if (in.hook && *in.hook) (*in.hook)(name_ + "." + what, t);
}

Tensor AttentionBlock::self_attention(const Tensor& xin, const BlockInputs& in) const {
  const int64_t b = xin.dim(0), l = xin.dim(1);
  const Shape heads = {b, l, num_heads_, head_dim_};
  const auto& a = self_attn_;
  Tensor q = a.norm_q(a.q(xin)).view(heads);
  Tensor k = a.norm_k(a.k(xin)).view(heads);
  Tensor v = a.v(xin).view(heads);
  q = ops::rope_3d(q, in.grid[0], in.grid[1], in.grid[2], rope_theta_);
  k = ops::rope_3d(k, in.grid[0], in.grid[1], in.grid[2], rope_theta_);
  Tensor o = ops::attention(q, k, v);  // every token is real: no key mask
  return a.o(o.reshape({b, l, num_heads_ * head_dim_}));
}

Tensor AttentionBlock::cross_attention(const Tensor& xn, const BlockInputs& in) const {
  const Tensor& ctx = *in.context;
  const int64_t b = xn.dim(0), l = xn.dim(1), lc = ctx.dim(1);
  const auto& a = cross_attn_;
  Tensor q = a.norm_q(a.q(xn)).view({b, l, num_heads_, head_dim_});
  Tensor k = a.norm_k(a.k(ctx)).view({b, lc, num_heads_, head_dim_});
  Tensor v = a.v(ctx).view({b, lc, num_heads_, head_dim_});
  // Wan2.2 passes context_lens=None: all text_len rows (zero padding included) are attended.
  Tensor o = ops::attention(q, k, v);
  return a.o(o.reshape({b, l, num_heads_ * head_dim_}));
}

void AttentionBlock::forward(Tensor& x, const BlockInputs& in) const {
  // modulation + e (f32), chunks: 0 shift_sa, 1 scale_sa, 2 gate_sa, 3 shift_ffn, 4 scale_ffn, 5 gate_ffn
  const Tensor mod = ops::add(modulation_, *in.e0).contiguous();
  const TimestepRows& rows = *in.rows;

  Tensor xin = modulate(norm1_(x), mod, rows, 0, 1);
  Tensor y = self_attention(xin, in);
  dump(in, "self_attn", y);
  gated_residual_(x, y, mod, rows, 2);
  dump(in, "after_self_attn", x);

  y = cross_attention(norm3_(x), in);
  dump(in, "cross_attn", y);
  ops::add_(x, y);
  dump(in, "after_cross_attn", x);

  xin = modulate(norm2_(x), mod, rows, 3, 4);
  y = ffn2_(ops::gelu_tanh(ffn0_(xin)));
  dump(in, "ffn", y);
  gated_residual_(x, y, mod, rows, 5);
  dump(in, "out", x);
}

}  // namespace wan22::models::dit
