#include "models/dit/wan_model.h"

#include "core/status.h"
#include "models/dit/dit_keys.h"
#include "models/dit/timesteps.h"
#include "ops/ops.h"

namespace wan22::models::dit {

namespace {
[[noreturn]] void bad_input(const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, "WanModel forward: " + msg);
}
}  // namespace

WanModel WanModel::load(const io::WeightStore& ws, const DitConfig& cfg, const LoadOptions& opt) {
  validate(cfg, "DiT config");
  WanModel m;
  m.cfg_ = cfg;
  const int64_t d = cfg.dim;
  const float eps = static_cast<float>(cfg.eps);
  const auto& p = cfg.patch_size;
  // Conv3d with kernel == stride == patch is a linear layer over flattened (C, pt, ph, pw) patches.
  m.patch_weight_ = load_weight(ws, "patch_embedding.weight", {d, cfg.in_dim, p[0], p[1], p[2]}, opt.keep_stored_dtype)
                        .reshape({d, cfg.in_dim * cfg.patch_volume()});
  m.patch_bias_ = ws.get_f32("patch_embedding.bias", {d});
  m.text_embedding_0_ = Linear::load(ws, "text_embedding.0", d, cfg.text_dim, opt);
  m.text_embedding_2_ = Linear::load(ws, "text_embedding.2", d, d, opt);
  m.time_embedding_0_ = Linear::load(ws, "time_embedding.0", d, cfg.freq_dim, opt);
  m.time_embedding_2_ = Linear::load(ws, "time_embedding.2", d, d, opt);
  m.time_projection_1_ = Linear::load(ws, "time_projection.1", 6 * d, d, opt);
  m.blocks_.reserve(static_cast<size_t>(cfg.num_layers));
  for (int64_t i = 0; i < cfg.num_layers; ++i) {
    m.blocks_.push_back(AttentionBlock::load(ws, static_cast<int>(i), cfg, opt));
  }
  m.head_norm_ = LayerNorm::plain(eps);
  m.head_ = Linear::load(ws, "head.head", cfg.out_dim * cfg.patch_volume(), d, opt);
  m.head_modulation_ = ws.get_f32("head.modulation", {1, 2, d});
  return m;
}

WanModel WanModel::load_dir(const std::string& dir, const LoadOptions& opt) {
  DitConfig cfg = load_dit_config(dir);
  io::WeightStore ws = io::WeightStore::open(dir);
  install_dit_key_map(ws);
  return load(ws, cfg, opt);
}

Tensor WanModel::forward(const Tensor& x, const Tensor& t, const Tensor& context, const Tensor* y,
                         int64_t seq_len) const {
  if (x.ndim() != 4) bad_input("x must be [C, F, H, W], got " + shape_str(x.shape()));
  if (y && y->ndim() != 4) bad_input("y must be [C, F, H, W], got " + shape_str(y->shape()));
  Tensor yb;
  if (y) yb = y->unsqueeze(0);
  Tensor out = forward_batch(x.unsqueeze(0), t, {context}, y ? &yb : nullptr, seq_len);
  return out.squeeze(0);
}

Tensor WanModel::embed_text(const std::vector<Tensor>& contexts) const {
  const int64_t b = static_cast<int64_t>(contexts.size());
  Tensor padded = Tensor::zeros({b, cfg_.text_len, cfg_.text_dim});
  for (int64_t i = 0; i < b; ++i) {
    Tensor c = contexts[static_cast<size_t>(i)];
    if (c.ndim() == 3 && c.dim(0) == 1) c = c.squeeze(0);
    if (c.ndim() != 2 || c.dim(1) != cfg_.text_dim) {
      bad_input("context " + std::to_string(i) + " must be [L, text_dim=" + std::to_string(cfg_.text_dim) +
                "], got " + shape_str(c.shape()));
    }
    if (c.dim(0) > cfg_.text_len) {
      bad_input("context " + std::to_string(i) + " has " + std::to_string(c.dim(0)) + " rows, more than text_len " +
                std::to_string(cfg_.text_len));
    }
    // Zero-pad to text_len BEFORE the embedding, as the reference does (padding rows are attended).
    padded.select(0, i).narrow(0, 0, c.dim(0)).copy_from(c);
  }
  return text_embedding_2_(ops::gelu_tanh(text_embedding_0_(padded)));
}

Tensor WanModel::forward_batch(const Tensor& x_in, const Tensor& t, const std::vector<Tensor>& contexts,
                               const Tensor* y, int64_t seq_len) const {
  const auto& c = cfg_;
  if (x_in.ndim() != 5) bad_input("x must be [B, C, F, H, W], got " + shape_str(x_in.shape()));
  const int64_t b = x_in.dim(0);
  if (static_cast<int64_t>(contexts.size()) != b) {
    bad_input("got " + std::to_string(contexts.size()) + " contexts for a batch of " + std::to_string(b));
  }
  if (c.needs_condition() && !y) bad_input("model_type i2v needs the condition y");

  // ---- input channels: x, plus the condition for i2v ----
  Tensor x = x_in.to(DType::kF32);
  if (y) {
    if (y->ndim() != 5 || (y->dim(0) != b && y->dim(0) != 1) || y->dim(2) != x.dim(2) || y->dim(3) != x.dim(3) ||
        y->dim(4) != x.dim(4)) {
      bad_input("y " + shape_str(y->shape()) + " does not fit x " + shape_str(x.shape()));
    }
    Tensor yy = y->to(DType::kF32);
    if (yy.dim(0) != b) yy = ops::concat(std::vector<Tensor>(static_cast<size_t>(b), yy), 0);
    x = ops::concat({x, yy}, 1);
  }
  if (x.dim(1) != c.in_dim) {
    bad_input("input has " + std::to_string(x.dim(1)) + " channels (x" + (y ? " + y" : "") + "), the model expects in_dim " +
              std::to_string(c.in_dim));
  }
  const auto& p = c.patch_size;
  for (int i = 0; i < 3; ++i) {
    if (x.dim(2 + i) % p[static_cast<size_t>(i)] != 0) {
      bad_input("x " + shape_str(x.shape()) + " is not divisible by the patch size [" + std::to_string(p[0]) + ", " +
                std::to_string(p[1]) + ", " + std::to_string(p[2]) + "]");
    }
  }
  const std::array<int64_t, 3> grid = {x.dim(2) / p[0], x.dim(3) / p[1], x.dim(4) / p[2]};
  for (int i = 0; i < 3; ++i) {
    if (grid[static_cast<size_t>(i)] > c.rope_max_seq_len) {
      bad_input("token grid axis " + std::to_string(i) + " has " + std::to_string(grid[static_cast<size_t>(i)]) +
                " positions, more than the RoPE table (" + std::to_string(c.rope_max_seq_len) + ")");
    }
  }
  const int64_t tokens = grid[0] * grid[1] * grid[2];
  if (seq_len <= 0) seq_len = tokens;

  // ---- patch embedding: [B, C, F, H, W] -> [B, L, C*pt*ph*pw] -> [B, L, dim] ----
  Tensor patches = x.view({b, c.in_dim, grid[0], p[0], grid[1], p[1], grid[2], p[2]})
                       .permute({0, 2, 4, 6, 1, 3, 5, 7})
                       .contiguous()
                       .view({b, tokens, c.in_dim * c.patch_volume()});
  Tensor h = ops::linear(patches, patch_weight_, &patch_bias_).contiguous();
  dump("patch_embed", h);

  // ---- time embedding, once per distinct timestep ----
  const TimestepRows rows = distinct_timesteps(t, b, tokens, seq_len);
  Tensor sinus = sinusoidal_embedding(rows.values, c.freq_dim, c.sinusoid_f64);
  Tensor e = time_embedding_2_(ops::silu(time_embedding_0_(sinus)));             // [U, dim]
  Tensor e0 = time_projection_1_(ops::silu(e)).view({rows.distinct(), 6, c.dim});  // [U, 6, dim]
  dump("time_embed", e);
  dump("time_proj", e0);

  // ---- text embedding over the zero-padded context ----
  Tensor ctx = embed_text(contexts);
  dump("text_embed", ctx);

  // ---- blocks ----
  BlockInputs in;
  in.rows = &rows;
  in.e0 = &e0;
  in.context = &ctx;
  in.grid = grid;
  in.hook = hook_ ? &hook_ : nullptr;
  for (const auto& blk : blocks_) blk.forward(h, in);

  // ---- head: LayerNorm, modulation (head.modulation + e), linear ----
  Tensor head_mod = ops::add(head_modulation_, e.unsqueeze(1)).contiguous();  // [U, 2, dim]: shift, scale
  Tensor out = head_(modulate(head_norm_(h), head_mod, rows, 0, 1));          // [B, L, pv * out_dim]
  dump("head", out);

  // ---- unpatchify: [B, L, (pt, ph, pw, C)] -> [B, C, F, H, W] ----
  Tensor video = out.view({b, grid[0], grid[1], grid[2], p[0], p[1], p[2], c.out_dim})
                     .permute({0, 7, 1, 4, 2, 5, 3, 6})
                     .contiguous()
                     .view({b, c.out_dim, grid[0] * p[0], grid[1] * p[1], grid[2] * p[2]});
  dump("out", video);
  return video;
}

}  // namespace wan22::models::dit
