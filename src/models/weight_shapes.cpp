#include "models/weight_shapes.h"

namespace wan22::models {

namespace {
void lin(WeightShapes& w, const std::string& p, int64_t out, int64_t in, bool bias = true) {
  w.push_back({p + ".weight", {out, in}});
  if (bias) w.push_back({p + ".bias", {out}});
}
void conv3(WeightShapes& w, const std::string& p, int64_t out, int64_t in, int64_t kt, int64_t kh, int64_t kw) {
  w.push_back({p + ".weight", {out, in, kt, kh, kw}});
  w.push_back({p + ".bias", {out}});
}
void conv2(WeightShapes& w, const std::string& p, int64_t out, int64_t in, int64_t k) {
  w.push_back({p + ".weight", {out, in, k, k}});
  w.push_back({p + ".bias", {out}});
}
// RMS_norm(dim, images=False): gamma [dim,1,1,1]; images=True: [dim,1,1].
void rms(WeightShapes& w, const std::string& p, int64_t dim, bool images) {
  if (images) w.push_back({p + ".gamma", {dim, 1, 1}});
  else w.push_back({p + ".gamma", {dim, 1, 1, 1}});
}
void residual(WeightShapes& w, const std::string& p, int64_t in, int64_t out) {
  rms(w, p + ".residual.0", in, false);
  conv3(w, p + ".residual.2", out, in, 3, 3, 3);
  rms(w, p + ".residual.3", out, false);
  conv3(w, p + ".residual.6", out, out, 3, 3, 3);
  if (in != out) conv3(w, p + ".shortcut", out, in, 1, 1, 1);
}
void attention_block(WeightShapes& w, const std::string& p, int64_t dim) {
  rms(w, p + ".norm", dim, true);
  w.push_back({p + ".to_qkv.weight", {3 * dim, dim, 1, 1}});
  w.push_back({p + ".to_qkv.bias", {3 * dim}});
  w.push_back({p + ".proj.weight", {dim, dim, 1, 1}});
  w.push_back({p + ".proj.bias", {dim}});
}
// Resample: 2d modes have resample.1 (Conv2d 3x3); 3d modes add time_conv.
void resample(WeightShapes& w, const std::string& p, int64_t dim, bool up, bool temporal) {
  conv2(w, p + ".resample.1", dim, dim, 3);
  if (temporal) conv3(w, p + ".time_conv", up ? 2 * dim : dim, dim, 3, 1, 1);
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

WeightShapes vae22_weight_shapes(const Vae22Shape& c) {
  WeightShapes w;
  const size_t n = c.dim_mult.size();
  // encoder: 12 input channels (3 x 2x2 patchify), z_dim*2 output
  {
    std::vector<int64_t> dims = {c.dim};
    for (int64_t m : c.dim_mult) dims.push_back(c.dim * m);
    conv3(w, "encoder.conv1", dims[0], 12, 3, 3, 3);
    for (size_t i = 0; i < n; ++i) {
      std::string p = "encoder.downsamples." + std::to_string(i) + ".downsamples.";
      int64_t in = dims[i], out = dims[i + 1];
      for (int64_t r = 0; r < c.num_res_blocks; ++r) {
        residual(w, p + std::to_string(r), in, out);
        in = out;
      }
      if (i != n - 1) {
        bool t = i < c.temperal_downsample.size() && c.temperal_downsample[i];
        resample(w, p + std::to_string(c.num_res_blocks), out, false, t);
      }
    }
    int64_t d = dims.back();
    residual(w, "encoder.middle.0", d, d);
    attention_block(w, "encoder.middle.1", d);
    residual(w, "encoder.middle.2", d, d);
    rms(w, "encoder.head.0", d, false);
    conv3(w, "encoder.head.2", 2 * c.z_dim, d, 3, 3, 3);
  }
  conv3(w, "conv1", 2 * c.z_dim, 2 * c.z_dim, 1, 1, 1);
  conv3(w, "conv2", c.z_dim, c.z_dim, 1, 1, 1);
  // decoder: dims = dec_dim * [mult[-1]] + reversed(mult); temporal upsample = reversed(down)
  {
    std::vector<int64_t> dims = {c.dec_dim * c.dim_mult.back()};
    for (size_t i = n; i-- > 0;) dims.push_back(c.dec_dim * c.dim_mult[i]);
    std::vector<bool> up(c.temperal_downsample.rbegin(), c.temperal_downsample.rend());
    conv3(w, "decoder.conv1", dims[0], c.z_dim, 3, 3, 3);
    residual(w, "decoder.middle.0", dims[0], dims[0]);
    attention_block(w, "decoder.middle.1", dims[0]);
    residual(w, "decoder.middle.2", dims[0], dims[0]);
    for (size_t i = 0; i < n; ++i) {
      std::string p = "decoder.upsamples." + std::to_string(i) + ".upsamples.";
      int64_t in = dims[i], out = dims[i + 1];
      for (int64_t r = 0; r < c.num_res_blocks + 1; ++r) {
        residual(w, p + std::to_string(r), in, out);
        in = out;
      }
      if (i != n - 1) {
        bool t = i < up.size() && up[i];
        resample(w, p + std::to_string(c.num_res_blocks + 1), out, true, t);
      }
    }
    rms(w, "decoder.head.0", dims.back(), false);
    conv3(w, "decoder.head.2", 12, dims.back(), 3, 3, 3);
  }
  return w;
}

}  // namespace wan22::models
