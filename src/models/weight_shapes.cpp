#include "models/weight_shapes.h"

namespace wan22::models {

namespace {
void lin(WeightShapes& w, const std::string& p, int64_t out, int64_t in, bool bias = true) {
  w.push_back({p + ".weight", {out, in}});
  if (bias) w.push_back({p + ".bias", {out}});
}
}  // namespace

WeightShapes dit_weight_shapes(const DitShape& c) {
  WeightShapes w;
  const int64_t in = c.in_dim;
  w.push_back({"patch_embedding.weight", {c.dim, in, c.patch[0], c.patch[1], c.patch[2]}});
  w.push_back({"patch_embedding.bias", {c.dim}});
  lin(w, "text_embedding.0", c.dim, c.text_dim);
  lin(w, "text_embedding.2", c.dim, c.dim);
  lin(w, "time_embedding.0", c.dim, c.freq_dim);
  lin(w, "time_embedding.2", c.dim, c.dim);
  lin(w, "time_projection.1", 6 * c.dim, c.dim);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string b = "blocks." + std::to_string(i);
    for (const char* a : {".self_attn", ".cross_attn"}) {
      for (const char* p : {".q", ".k", ".v", ".o"}) lin(w, b + a + p, c.dim, c.dim);
      if (c.qk_norm) {
        w.push_back({b + a + ".norm_q.weight", {c.dim}});
        w.push_back({b + a + ".norm_k.weight", {c.dim}});
      }
    }
    if (c.cross_attn_norm) {
      w.push_back({b + ".norm3.weight", {c.dim}});
      w.push_back({b + ".norm3.bias", {c.dim}});
    }
    lin(w, b + ".ffn.0", c.ffn_dim, c.dim);
    lin(w, b + ".ffn.2", c.dim, c.ffn_dim);
    w.push_back({b + ".modulation", {1, 6, c.dim}});
  }
  lin(w, "head.head", c.out_dim * c.patch[0] * c.patch[1] * c.patch[2], c.dim);
  w.push_back({"head.modulation", {1, 2, c.dim}});
  return w;
}

WeightShapes t5_weight_shapes(const T5Shape& c) {
  WeightShapes w;
  w.push_back({"token_embedding.weight", {c.vocab, c.dim}});
  if (c.shared_pos) w.push_back({"pos_embedding.embedding.weight", {c.num_buckets, c.num_heads}});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string b = "blocks." + std::to_string(i);
    w.push_back({b + ".norm1.weight", {c.dim}});
    lin(w, b + ".attn.q", c.dim_attn, c.dim, false);
    lin(w, b + ".attn.k", c.dim_attn, c.dim, false);
    lin(w, b + ".attn.v", c.dim_attn, c.dim, false);
    lin(w, b + ".attn.o", c.dim, c.dim_attn, false);
    w.push_back({b + ".norm2.weight", {c.dim}});
    lin(w, b + ".ffn.gate.0", c.dim_ffn, c.dim, false);
    lin(w, b + ".ffn.fc1", c.dim_ffn, c.dim, false);
    lin(w, b + ".ffn.fc2", c.dim, c.dim_ffn, false);
    if (!c.shared_pos) w.push_back({b + ".pos_embedding.embedding.weight", {c.num_buckets, c.num_heads}});
  }
  w.push_back({"norm.weight", {c.dim}});
  return w;
}

}  // namespace wan22::models
