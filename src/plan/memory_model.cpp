#include "plan/memory_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <unordered_map>

#include "core/status.h"
#include "models/vae/vae_weight_spec.h"
#include "plan/vae_cuda_memory.h"

namespace wan22::plan {

std::string gib_str(double bytes) {
  char buf[32];
  if (std::fabs(bytes) >= 0.1 * kGiB || bytes == 0) std::snprintf(buf, sizeof(buf), "%.2f GiB", bytes / kGiB);
  else std::snprintf(buf, sizeof(buf), "%.1f MiB", bytes / kMiB);
  return buf;
}

const StageMemory* MemoryEstimate::stage(Stage s) const {
  for (const auto& st : stages)
    if (st.stage == s) return &st;
  return nullptr;
}

namespace {

constexpr double kAlign = 512;
double aligned(double bytes) { return std::ceil(bytes / kAlign) * kAlign; }
double numel(const Shape& s) {
  double n = 1;
  for (int64_t d : s) n *= static_cast<double>(d);
  return n;
}
bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}
bool starts_with(const std::string& s, const std::string& pre) { return s.compare(0, pre.size(), pre) == 0; }

// A linear weight matrix [out, in] in format f: fp8/int8 add an f32 scale per output row.
double matrix_bytes(const Shape& s, WeightFormat f) {
  double b = aligned(numel(s) * format_bytes(f));
  if (f == WeightFormat::kFP8 || f == WeightFormat::kInt8) b += aligned(static_cast<double>(s[0]) * 4);
  return b;
}

std::string fmt_num(double v) {
  std::ostringstream s;
  s << static_cast<long long>(std::llround(v));
  return s.str();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// weights

namespace {
ComponentWeights dit_weights_uncached(const models::DitShape& d, WeightFormat f) {
  ComponentWeights w;
  w.blocks = static_cast<int>(d.num_layers);
  const bool f32 = f == WeightFormat::kF32;
  const WeightFormat small_fmt = f32 ? WeightFormat::kF32 : WeightFormat::kBF16;
  for (const auto& [name, shape] : models::dit_weight_shapes(d)) {
    const bool in_block = starts_with(name, "blocks.");
    const bool first_block = starts_with(name, "blocks.0.");
    double bytes = 0;
    if (ends_with(name, ".modulation") || name.find(".norm") != std::string::npos) {
      bytes = aligned(numel(shape) * 4);  // f32 (modulation, q/k RMSNorm, norm3)
    } else if (ends_with(name, ".bias")) {
      // bf16 biases, except the time embedding/projection biases the CUDA code keeps in f32
      const bool f32_bias = starts_with(name, "time_embedding") || starts_with(name, "time_projection");
      bytes = aligned(numel(shape) * (f32 || f32_bias ? 4 : 2));
    } else if (in_block) {
      bytes = matrix_bytes(shape, f);  // the block's linear layers take the chosen format
    } else {
      bytes = aligned(numel(shape) * format_bytes(small_fmt));  // embeddings, projection, head
    }
    w.params += numel(shape);
    w.total_bytes += bytes;
    if (first_block) w.block_bytes += bytes;
  }
  w.other_bytes = w.total_bytes - w.block_bytes * w.blocks;
  return w;
}

ComponentWeights t5_weights_uncached(const models::T5Shape& t, WeightFormat f) {
  ComponentWeights w;
  w.blocks = static_cast<int>(t.num_layers);
  for (const auto& [name, shape] : models::t5_weight_shapes(t)) {
    double bytes = 0;
    if (name == "token_embedding.weight") {
      bytes = aligned(numel(shape) * (f == WeightFormat::kF32 ? 4 : 2));
      w.embedding_bytes = bytes;
    } else if (shape.size() == 2 && name.find("pos_embedding") == std::string::npos) {
      bytes = matrix_bytes(shape, f);
    } else {
      bytes = aligned(numel(shape) * 4);  // norms and relative position tables
    }
    w.params += numel(shape);
    w.total_bytes += bytes;
    if (starts_with(name, "blocks.0.")) w.block_bytes += bytes;
  }
  w.other_bytes = w.total_bytes - w.block_bytes * w.blocks;
  return w;
}

ComponentWeights vae_weights_uncached(const models::vae::VaeConfig& v, WeightFormat f, bool decoder) {
  ComponentWeights w;
  for (const auto& spec : models::vae::vae_weight_specs(v)) {
    const bool is_dec = starts_with(spec.key, "decoder.") || starts_with(spec.key, "conv2.");
    if (is_dec != decoder) continue;
    const bool kernel = ends_with(spec.key, ".weight") && spec.shape.size() >= 2;
    const double bytes = aligned(numel(spec.shape) * (kernel ? format_bytes(f) : 4));
    w.params += numel(spec.shape);
    w.total_bytes += bytes;
  }
  w.other_bytes = w.total_bytes;
  return w;
}

// The planner evaluates thousands of plans of one model: the weight tables and VAE walks are
// computed once per distinct key (per thread).
std::string vae_key(const models::vae::VaeConfig& v) {
  std::string k = std::to_string(static_cast<int>(v.version)) + "/" + std::to_string(v.dim) + "/" +
                  std::to_string(v.dec_dim) + "/" + std::to_string(v.z_dim) + "/" + std::to_string(v.num_res_blocks) +
                  "/" + std::to_string(v.patch()) + "/" + std::to_string(v.in_channels) + "/";
  for (int m : v.dim_mult) k += std::to_string(m) + ",";
  for (bool b : v.temperal_downsample) k += b ? "1" : "0";
  return k;
}

template <class Fn>
const ComponentWeights& cached(const std::string& key, Fn&& fn) {
  thread_local std::unordered_map<std::string, ComponentWeights> cache;
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, fn()).first;
  return it->second;
}

}  // namespace

ComponentWeights dit_weights(const models::DitShape& d, WeightFormat f) {
  char key[256];
  std::snprintf(key, sizeof(key), "dit/%s/%lld/%lld/%lld/%lld/%lld/%lld/%lld/%lld/%lld/%lld/%lld/%d/%d/%d",
                d.model_type.c_str(), static_cast<long long>(d.patch[0]), static_cast<long long>(d.patch[1]),
                static_cast<long long>(d.patch[2]), static_cast<long long>(d.in_dim), static_cast<long long>(d.out_dim),
                static_cast<long long>(d.dim), static_cast<long long>(d.ffn_dim), static_cast<long long>(d.freq_dim),
                static_cast<long long>(d.text_dim), static_cast<long long>(d.num_heads),
                static_cast<long long>(d.num_layers), d.qk_norm ? 1 : 0, d.cross_attn_norm ? 1 : 0, static_cast<int>(f));
  return cached(key, [&] { return dit_weights_uncached(d, f); });
}

ComponentWeights t5_weights(const models::T5Shape& t, WeightFormat f) {
  char key[200];
  std::snprintf(key, sizeof(key), "t5/%lld/%lld/%lld/%lld/%lld/%lld/%lld/%d/%d", static_cast<long long>(t.vocab),
                static_cast<long long>(t.dim), static_cast<long long>(t.dim_attn), static_cast<long long>(t.dim_ffn),
                static_cast<long long>(t.num_heads), static_cast<long long>(t.num_layers),
                static_cast<long long>(t.num_buckets), t.shared_pos ? 1 : 0, static_cast<int>(f));
  return cached(key, [&] { return t5_weights_uncached(t, f); });
}

ComponentWeights vae_weights(const models::vae::VaeConfig& v, WeightFormat f, bool decoder) {
  const std::string key = "vae/" + vae_key(v) + "/" + std::to_string(static_cast<int>(f)) + (decoder ? "/d" : "/e");
  return cached(key, [&] { return vae_weights_uncached(v, f, decoder); });
}

// ---------------------------------------------------------------------------------------------
// DiT activations

std::vector<MemTerm> dit_activation_terms(const models::DitShape& d, const LatentGrid& g, int64_t text_len, int batch,
                                          int segments, bool gpu_layout, bool two_timesteps) {
  const double b = batch, L = static_cast<double>(g.tokens), D = static_cast<double>(d.dim),
               FF = static_cast<double>(d.ffn_dim), T = static_cast<double>(text_len);
  const int N = std::max(1, segments);
  const double Ls = std::ceil(L / N);
  const double lat = static_cast<double>(g.frames * g.height * g.width);
  const double R = two_timesteps ? 2 : 1;
  const std::string bl = "b=" + fmt_num(b) + ", L=" + fmt_num(L) + ", dim=" + fmt_num(D);
  const std::string bls = N > 1 ? "b=" + fmt_num(b) + ", L/N=" + fmt_num(Ls) : bl;
  std::vector<MemTerm> t;
  if (gpu_layout) {
    t.push_back({"residual stream x (f32)", b * L * D * 4, "b*L*dim*4 (" + bl + ")"});
    if (N == 1) {
      t.push_back({"qkv (bf16)", b * L * 3 * D * 2, "b*L*3*dim*2"});
    } else {
      t.push_back({"k|v of all tokens (bf16)", b * L * 2 * D * 2, "b*L*2*dim*2 (queries run per segment)"});
      t.push_back({"q of one segment (bf16)", b * Ls * D * 2, "b*(L/N)*dim*2 (" + bls + ")"});
    }
    t.push_back({"normed input xn (bf16)", b * Ls * D * 2, N > 1 ? "b*(L/N)*dim*2" : "b*L*dim*2"});
    t.push_back({"attention output (bf16)", b * Ls * D * 2, N > 1 ? "b*(L/N)*dim*2" : "b*L*dim*2"});
    t.push_back({"projection output y (bf16)", b * Ls * D * 2, N > 1 ? "b*(L/N)*dim*2" : "b*L*dim*2"});
    t.push_back({"FFN hidden (bf16)", b * Ls * FF * 2,
                 std::string(N > 1 ? "b*(L/N)" : "b*L") + "*ffn*2 (ffn=" + fmt_num(FF) + ")"});
    t.push_back({"cross-attention k|v (bf16)", b * T * 2 * D * 2, "b*text_len*2*dim*2"});
    t.push_back({"embedded context (bf16)", b * T * D * 2, "b*text_len*dim*2"});
  } else {
    // CPU backend (models/dit): every buffer f32, functional ops (a new tensor per op). Peak of a
    // block: x + max(self-attention: xin, q, k, v, two RoPE temporaries, o = 7 x [L, dim];
    //               FFN: xin + hidden + GELU(hidden) = [L, dim] + 2 x [L, ffn]).
    const double attn = 7 * b * L * D * 4, ffn = b * L * D * 4 + 2 * b * L * FF * 4;
    t.push_back({"residual stream x (f32)", b * L * D * 4, "b*L*dim*4 (" + bl + ")"});
    t.push_back({attn >= ffn ? "self-attention temporaries (f32)" : "FFN temporaries (f32)", std::max(attn, ffn),
                 "max(7*b*L*dim*4, b*L*dim*4 + 2*b*L*ffn*4)"});
    t.push_back({"context (f32)", b * T * (D + static_cast<double>(d.text_dim)) * 4, "b*text_len*(dim+text_dim)*4"});
  }
  const double c = static_cast<double>(d.dim / d.num_heads) / 2;
  const double rope = static_cast<double>(g.frames) * (c - 2 * std::floor(c / 3)) +
                      static_cast<double>(g.height / d.patch[1] + g.width / d.patch[2]) * std::floor(c / 3);
  t.push_back({"modulation rows, time embedding, RoPE table (f32)",
               static_cast<double>(d.num_layers) * R * 6 * D * 4 + R * 10 * D * 4 + rope * 8,
               "layers*R*6*dim*4 + R*10*dim*4 + rope_rows*8 (R=" + fmt_num(R) + ")"});
  t.push_back({"latent in + DiT output (f32)",
               b * lat * static_cast<double>(d.in_dim + d.out_dim) * 4,
               "b*(in_dim+out_dim)*F*h*w*4 (F*h*w=" + fmt_num(lat) + ")"});
  t.push_back({"text context input (bf16)", b * T * static_cast<double>(d.text_dim) * 2, "b*text_len*text_dim*2"});
  return t;
}

// ---------------------------------------------------------------------------------------------
// VAE walk

namespace {

struct Walker {
  double act;
  VaeWalk r;
  double base = 0;  // bytes held outside the current layer (Wan2.2 up/down block shortcuts)
  double T = 0, H = 0, W = 0;

  void live(double elems, const std::string& where) {
    const double b = base + elems * act;
    if (b > r.peak_bytes) {
      r.peak_bytes = b;
      r.peak_where = where;
    }
  }
  double P() const { return T * H * W; }
  double HW() const { return H * W; }

  // Causal 3x3x3 conv Ci -> Co: input, the input with the 2 cached frames prepended, output.
  void causal_conv(double ci, double co, const std::string& where) {
    live(ci * P() + ci * (T + 2) * HW() + co * P(), where);
    r.cache_bytes += 2 * ci * HW() * act;
    r.flops += 2 * 27 * ci * co * P();
  }
  // ResidualBlock: x, shortcut (1x1 conv when Ci != Co), norm+SiLU output, padded conv input, conv output.
  void res(double ci, double co, const std::string& where) {
    const double x = ci * P(), h = ci != co ? co * P() : 0;
    live(x + h + ci * P() + ci * (T + 2) * HW() + co * P(), where + ".conv1");
    live(x + h + co * P() + co * (T + 2) * HW() + co * P(), where + ".conv2");
    r.cache_bytes += 2 * (ci + co) * HW() * act;
    r.flops += 2 * 27 * P() * (ci * co + co * co) + (h > 0 ? 2 * ci * co * P() : 0);
  }
  // AttentionBlock (per frame over H*W tokens, flash-style): x, normed, qkv, output.
  void attn(double c, const std::string& where) {
    live(6 * c * P(), where);
    r.flops += 2 * P() * c * 4 * c + 4 * T * HW() * HW() * c;
  }
  // Resample up: optional temporal conv (C -> 2C, causal, frames x2), nearest x2, 3x3 conv C -> cc.
  void up(double c, double cc, bool temporal, const std::string& where) {
    if (temporal) {
      live(c * P() + c * (T + 2) * HW() + 2 * c * P(), where + ".time_conv");
      r.cache_bytes += 2 * c * HW() * act;
      r.flops += 2 * 3 * c * 2 * c * P();
      T *= 2;
    }
    live(c * P() + 4 * c * P() + 4 * cc * P(), where + ".resample");
    r.flops += 2 * 9 * c * cc * 4 * P();
    H *= 2;
    W *= 2;
  }
  // Resample down: zero pad, 3x3 conv stride 2 (C -> C); temporal: (3,1,1) conv stride 2.
  void down(double c, bool temporal, const std::string& where) {
    live(c * P() + c * P() + c * P() / 4, where + ".resample");
    r.flops += 2 * 9 * c * c * P() / 4;
    H /= 2;
    W /= 2;
    if (temporal && T > 1) {
      live(c * P() + c * (T + 2) * HW() + c * P() / 2, where + ".time_conv");
      r.cache_bytes += 2 * c * HW() * act;
      r.flops += 2 * 3 * c * c * P() / 2;
      T = std::ceil(T / 2);
    }
  }
};

std::vector<double> decoder_dims(const models::vae::VaeConfig& v) {
  std::vector<double> dims = {static_cast<double>(v.dec_dim) * v.dim_mult.back()};
  for (int i = static_cast<int>(v.dim_mult.size()) - 1; i >= 0; --i) dims.push_back(static_cast<double>(v.dec_dim) * v.dim_mult[i]);
  return dims;
}

}  // namespace

namespace {
VaeWalk decode_walk_uncached(const models::vae::VaeConfig& v, int64_t lat_t, int64_t lat_h, int64_t lat_w, double act) {
  Walker w{act, {}, 0, static_cast<double>(lat_t), static_cast<double>(lat_h), static_cast<double>(lat_w)};
  const bool v22 = v.version == models::vae::VaeVersion::kWan22;
  const int levels = static_cast<int>(v.dim_mult.size());
  const std::vector<double> dims = decoder_dims(v);
  const std::vector<bool> t_up(v.temperal_downsample.rbegin(), v.temperal_downsample.rend());
  const double z = v.z_dim, out_ch = static_cast<double>(v.in_channels) * v.patch() * v.patch();
  w.r.flops += 2 * z * z * w.P();  // conv2 (1x1) on the latent
  w.causal_conv(z, dims[0], "decoder.conv1");
  w.res(dims[0], dims[0], "decoder.middle.0");
  w.attn(dims[0], "decoder.middle.1");
  w.res(dims[0], dims[0], "decoder.middle.2");
  double c = dims[0];
  for (int i = 0; i < levels; ++i) {
    double in = dims[i];
    const double out = dims[i + 1];
    if (!v22 && i >= 1 && i <= 3) in /= 2;
    const bool t = i < static_cast<int>(t_up.size()) && t_up[i];
    const bool upl = i != levels - 1;
    const std::string name = "decoder.upsamples." + std::to_string(i);
    double shortcut = 0;
    if (v22 && upl) {  // DupUp3D shortcut at the upsampled size, held through the level
      shortcut = out * (t ? 2 : 1) * 4 * w.P();
      w.live(c * w.P() + shortcut, name + ".shortcut");
      w.base += shortcut * act;
    }
    for (int j = 0; j < v.num_res_blocks + 1; ++j) w.res(j == 0 ? in : out, out, name + ".res" + std::to_string(j));
    c = out;
    if (upl) {
      const double cc = v22 ? out : out / 2;
      w.up(out, cc, t, name);
      c = cc;
    }
    if (shortcut > 0) {
      w.base -= shortcut * act;
      w.live(c * w.P() + shortcut, name + ".add_shortcut");
    }
  }
  // head: RMSNorm + SiLU, causal conv -> video channels (x patch^2)
  w.live(c * w.P() * 2 + c * (w.T + 2) * w.HW() + out_ch * w.P(), "decoder.head");
  w.r.cache_bytes += 2 * c * w.HW() * act;
  w.r.flops += 2 * 27 * c * out_ch * w.P();
  w.r.out_elements = out_ch * w.P();
  return w.r;
}

VaeWalk encode_walk_uncached(const models::vae::VaeConfig& v, int64_t frames, int64_t px_h, int64_t px_w, double act) {
  const double p = v.patch();
  Walker w{act, {}, 0, static_cast<double>(frames), static_cast<double>(px_h) / p, static_cast<double>(px_w) / p};
  const bool v22 = v.version == models::vae::VaeVersion::kWan22;
  const int levels = static_cast<int>(v.dim_mult.size());
  std::vector<double> dims = {static_cast<double>(v.dim)};
  for (int m : v.dim_mult) dims.push_back(static_cast<double>(v.dim) * m);
  const double io = static_cast<double>(v.in_channels) * p * p, z = v.z_dim;
  w.causal_conv(io, dims[0], "encoder.conv1");
  double c = dims[0];
  for (int i = 0; i < levels; ++i) {
    const double in = dims[i], out = dims[i + 1];
    const bool t = i < static_cast<int>(v.temperal_downsample.size()) && v.temperal_downsample[i];
    const bool downl = i != levels - 1;
    const std::string name = "encoder.downsamples." + std::to_string(i);
    double shortcut = 0;
    if (v22 && downl) {  // AvgDown3D shortcut at the downsampled size
      shortcut = out * w.P() / 4;
      w.base += shortcut * act;
    }
    for (int j = 0; j < v.num_res_blocks; ++j) w.res(j == 0 ? in : out, out, name + ".res" + std::to_string(j));
    c = out;
    if (downl) w.down(out, t, name);
    if (shortcut > 0) {
      w.base -= shortcut * act;
      w.live(c * w.P() + shortcut, name + ".add_shortcut");
    }
  }
  w.res(c, c, "encoder.middle.0");
  w.attn(c, "encoder.middle.1");
  w.res(c, c, "encoder.middle.2");
  w.causal_conv(c, 2 * z, "encoder.head");
  w.r.out_elements = 2 * z * w.P();
  return w.r;
}

template <class Fn>
const VaeWalk& cached_walk(const std::string& key, Fn&& fn) {
  thread_local std::unordered_map<std::string, VaeWalk> cache;
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, fn()).first;
  return it->second;
}

}  // namespace

VaeWalk vae_decode_walk(const models::vae::VaeConfig& v, int64_t lat_t, int64_t lat_h, int64_t lat_w, double act) {
  const std::string key = "dec/" + vae_key(v) + "/" + std::to_string(lat_t) + "/" + std::to_string(lat_h) + "/" +
                          std::to_string(lat_w) + "/" + std::to_string(act);
  return cached_walk(key, [&] { return decode_walk_uncached(v, lat_t, lat_h, lat_w, act); });
}

VaeWalk vae_encode_walk(const models::vae::VaeConfig& v, int64_t frames, int64_t px_h, int64_t px_w, double act) {
  const std::string key = "enc/" + vae_key(v) + "/" + std::to_string(frames) + "/" + std::to_string(px_h) + "/" +
                          std::to_string(px_w) + "/" + std::to_string(act);
  return cached_walk(key, [&] { return encode_walk_uncached(v, frames, px_h, px_w, act); });
}

VaeTiling vae_tiling(const ModelSpec& m, int width, int height, int tile, int overlap) {
  VaeTiling t;
  const int s = m.vae_stride_s();
  if (tile <= 0 || (tile >= width && tile >= height)) {
    t.lat_h = height / s;
    t.lat_w = width / s;
    return t;
  }
  auto count = [&](int extent) {
    if (tile >= extent) return 1;
    const int stride = std::max(1, tile - overlap);
    return 1 + static_cast<int>(std::ceil(static_cast<double>(extent - tile) / stride));
  };
  t.tiles_x = count(width);
  t.tiles_y = count(height);
  // The n tiles of an axis split it evenly (each at most `tile` pixels, neighbours sharing
  // `overlap`); a tile decodes its latent region plus a margin of overlap/2 pixels on each side
  // (rounded up to whole latent pixels), so its blended border is exact.
  auto extent = [&](int full, int n) {
    return n == 1 ? full : std::min(tile, (full + (n - 1) * overlap + n - 1) / n);
  };
  const int64_t margin = (overlap / 2 + s - 1) / s;
  t.lat_w = std::min<int64_t>(width / s, (extent(width, t.tiles_x) + s - 1) / s + 2 * margin);
  t.lat_h = std::min<int64_t>(height / s, (extent(height, t.tiles_y) + s - 1) / s + 2 * margin);
  t.recompute = static_cast<double>(t.tiles_x * t.tiles_y) * static_cast<double>(t.lat_h * t.lat_w) /
                (static_cast<double>(height / s) * static_cast<double>(width / s));
  return t;
}

// ---------------------------------------------------------------------------------------------
// whole pipeline

namespace {

double t5_activation_bytes(const models::T5Shape& t, int prompts, int64_t len, bool gpu, std::vector<MemTerm>& terms) {
  const double n = prompts, l = static_cast<double>(len), d = static_cast<double>(t.dim),
               da = static_cast<double>(t.dim_attn), f = static_cast<double>(t.dim_ffn),
               h = static_cast<double>(t.num_heads);
  const double e = gpu ? 2 : 4;
  double sum = 0;
  auto add = [&](const std::string& name, double bytes, const std::string& formula) {
    terms.push_back({name, bytes, formula});
    sum += bytes;
  };
  add("T5 residual stream (f32)", n * l * d * 4, "prompts*len*dim*4 (prompts=" + fmt_num(n) + ", len=" + fmt_num(l) + ")");
  add("T5 q, k, v, attention out", 4 * n * l * da * e, "4*prompts*len*dim_attn*" + fmt_num(e));
  add("T5 position bias (f32)", n * h * l * l * 4, "prompts*heads*len^2*4");
  add("T5 FFN gate, fc1, product", 3 * n * l * f * e, "3*prompts*len*dim_ffn*" + fmt_num(e));
  return sum;
}

void add(StageMemory& s, const std::string& name, double bytes, const std::string& formula, bool weight) {
  if (bytes <= 0) return;
  s.terms.push_back({name, bytes, formula});
  (weight ? s.weight_bytes : s.activation_bytes) += bytes;
}

}  // namespace

MemoryEstimate estimate_memory(const ModelSpec& m, const Workload& w, const Plan& p, const BackendSizes& bs) {
  MemoryEstimate est;
  const LatentGrid g = latent_grid(m, w.width, w.height, w.frames);
  const bool gpu = p.on_gpu;
  const bool i2v = w.image_to_video || m.needs_image;
  const int prompts = w.cfg() ? 2 : 1;
  const bool batched = w.cfg() && p.cfg_batch && (!p.on_gpu || g.tokens <= kCfgBatchMaxTokens);
  const int batch = batched ? 2 : 1;
  const double act = gpu ? 2.0 : 4.0;  // VAE activation element (bf16 on the GPU, f32 on the CPU)

  const ComponentWeights dit = dit_weights(m.dit, gpu ? p.dit_format : WeightFormat::kBF16);
  const ComponentWeights t5 = t5_weights(m.t5, gpu ? p.text_format : WeightFormat::kBF16);
  ComponentWeights vdec = vae_weights(m.vae, gpu ? p.vae_format : WeightFormat::kF32, true);
  // The CUDA decoder holds each 2x upsampling conv in its sub-pixel form (16/9 of the 3x3 weights):
  // 1.0648 GiB measured on the H200 against 1.03 GiB for the checkpoint's shapes.
  if (gpu) vdec.total_bytes = vae_cuda_decoder_weight_bytes(m.vae, format_bytes(p.vae_format));
  const ComponentWeights venc = vae_weights(m.vae, gpu ? p.vae_format : WeightFormat::kF32, false);
  const double vae_all = vdec.total_bytes + (i2v ? venc.total_bytes : 0);
  const double experts = m.experts;

  // Weights present in every stage (resident components; on the CPU every component is loaded).
  std::vector<MemTerm> resident;
  if (!gpu || p.dit == Placement::kResident)
    resident.push_back({"DiT weights (" + std::string(format_name(gpu ? p.dit_format : WeightFormat::kBF16)) + ")",
                        experts * dit.total_bytes,
                        fmt_num(experts) + " expert(s) x " + gib_str(dit.total_bytes) + " (" +
                            fmt_num(dit.params / 1e6) + "M parameters)"});
  if (!gpu || p.text == Placement::kResident)
    resident.push_back({"text encoder weights", t5.total_bytes, fmt_num(t5.params / 1e6) + "M parameters"});
  if (!gpu || p.vae == Placement::kResident)
    resident.push_back({"VAE weights", vae_all, i2v ? "decoder + encoder" : "decoder"});
  auto stage = [&](Stage s) {
    StageMemory st;
    st.stage = s;
    for (const auto& r : resident) add(st, r.name, r.bytes, r.formula, true);
    return st;
  };

  // ---- text encoding ----
  {
    StageMemory st = stage(Stage::kTextEncode);
    if (gpu && p.dit == Placement::kStreamed)
      add(st, "DiT embeddings/head (stay on the device)", experts * dit.other_bytes, "", true);
    if (gpu && p.text == Placement::kStreamed) {
      add(st, "text encoder: 2 layer buffers (streamed)", 2 * t5.block_bytes,
          "2 x " + gib_str(t5.block_bytes) + " (token embedding looked up on the host)", true);
      add(st, "text encoder: final norm", t5.other_bytes - t5.embedding_bytes, "", true);
    }
    if (!gpu || p.text != Placement::kCpu) {
      std::vector<MemTerm> terms;
      t5_activation_bytes(m.t5, prompts, m.text_len, gpu, terms);
      for (const auto& t : terms) add(st, t.name, t.bytes, t.formula, false);
    } else {
      add(st, "text context uploaded from the CPU encoder (bf16)",
          prompts * static_cast<double>(m.text_len) * static_cast<double>(m.t5.dim) * 2, "prompts*len*dim*2", false);
    }
    st.workspace_bytes = gpu && p.text != Placement::kCpu ? bs.gemm_workspace + bs.attention_workspace : 0;
    est.stages.push_back(st);
  }

  // ---- image encoding (image-to-video) ----
  const VaeTiling tiling = vae_tiling(m, w.width, w.height, p.vae_tile, p.vae_overlap);
  const double s = m.vae_stride_s();
  if (i2v) {
    StageMemory st = stage(Stage::kImageEncode);
    if (gpu && p.vae == Placement::kOffloaded) add(st, "VAE encoder weights (offloaded, copied in)", venc.total_bytes, "", true);
    const VaeWalk e = vae_encode_walk(m.vae, 1, static_cast<int64_t>(tiling.lat_h * s), static_cast<int64_t>(tiling.lat_w * s), act);
    add(st, "VAE encoder peak layer (" + e.peak_where + ")", e.peak_bytes, "one image tile, walked layer by layer", false);
    add(st, "input image (f32)", 3.0 * w.width * w.height * 4, "3*W*H*4", false);
    st.workspace_bytes = gpu ? bs.gemm_workspace + bs.conv_workspace : 0;
    est.stages.push_back(st);
  }

  // ---- denoising ----
  {
    StageMemory st = stage(Stage::kDenoise);
    if (gpu && p.dit == Placement::kStreamed) {
      const int k = std::clamp(p.dit_resident_blocks, 0, dit.blocks);
      add(st, "DiT embeddings/head (" + std::string(format_name(p.dit_format)) + ")", dit.other_bytes, "", true);
      add(st, "DiT resident blocks", k * dit.block_bytes, fmt_num(k) + " x " + gib_str(dit.block_bytes), true);
      if (k < dit.blocks)
        add(st, "DiT streaming buffers", 2 * dit.block_bytes, "2 x " + gib_str(dit.block_bytes) + " (double buffer)", true);
    }
    const std::vector<MemTerm> a = dit_activation_terms(m.dit, g, m.text_len, batch, gpu ? p.checkpoint_segments : 1,
                                                        gpu, i2v);
    for (const auto& t : a) add(st, t.name, t.bytes, t.formula, false);
    if (gpu) {
      const MemTerm q = dit_quantized_input_term(m.dit, g, batch, p.checkpoint_segments, p.dit_format);
      add(st, q.name, q.bytes, q.formula, false);
    }
    const double lat = static_cast<double>(m.vae.z_dim) * static_cast<double>(g.frames * g.height * g.width) * 4;
    add(st, "sampler state (f32)", 5 * lat,
        "5 latents (x_t, conditional and unconditional outputs, 2 solver history entries) x " + gib_str(lat), false);
    if (prompts > batch)
      add(st, "second text context (bf16)", static_cast<double>(m.text_len) * static_cast<double>(m.dit.text_dim) * 2,
          "sequential CFG keeps both contexts", false);
    st.workspace_bytes = gpu ? bs.gemm_workspace + bs.attention_workspace : 0;
    est.stages.push_back(st);
  }

  // ---- VAE decode ----
  {
    StageMemory st = stage(Stage::kVaeDecode);
    if (gpu && p.dit == Placement::kStreamed)
      add(st, "DiT embeddings/head (stay on the device)", experts * dit.other_bytes, "", true);
    if (gpu && p.vae == Placement::kOffloaded) add(st, "VAE decoder weights (offloaded, copied in)", vdec.total_bytes, "", true);
    const int chunk = std::max(1, p.vae_chunk);
    if (gpu) {
      // The CUDA decoder, replayed buffer by buffer (vae_cuda_memory.h), and the f32 video it fills.
      for (const auto& t : vae_cuda_decode_terms(m, w, p)) add(st, t.name, t.bytes, t.formula, false);
      st.workspace_bytes = bs.gemm_workspace + bs.conv_workspace;
    } else {
      const VaeWalk d = vae_decode_walk(m.vae, chunk, tiling.lat_h, tiling.lat_w, act);
      const std::string tile_txt = tiling.tiles_x * tiling.tiles_y > 1
                                       ? "tile " + fmt_num(tiling.lat_w * s) + "x" + fmt_num(tiling.lat_h * s) + " px"
                                       : "untiled " + fmt_num(tiling.lat_w * s) + "x" + fmt_num(tiling.lat_h * s) + " px";
      add(st, "VAE decoder peak layer (" + d.peak_where + ")", d.peak_bytes,
          fmt_num(chunk) + " latent frame(s) per chunk, " + tile_txt, false);
      add(st, "VAE causal cache", d.cache_bytes, "2 frames of every causal conv's input, " + tile_txt, false);
      add(st, "decoded chunk for the host copy (f32)", d.out_elements * 4, "one chunk of one tile", false);
    }
    add(st, "latent (f32)", static_cast<double>(m.vae.z_dim) * static_cast<double>(g.frames * g.height * g.width) * 4,
        "z*F*h*w*4", false);
    est.stages.push_back(st);
  }

  for (auto& st : est.stages) {
    st.alloc_bytes = st.weight_bytes + st.activation_bytes;
    st.margin_bytes = p.fragmentation_margin * st.activation_bytes;
    st.device_bytes = st.alloc_bytes + st.workspace_bytes + st.margin_bytes;
    if (st.device_bytes > est.peak_device) {
      est.peak_device = st.device_bytes;
      est.peak_stage = st.stage;
    }
    est.peak_alloc = std::max(est.peak_alloc, st.alloc_bytes);
  }

  // ---- host memory ----
  auto host = [&](const std::string& name, double bytes, const std::string& formula, bool pinned) {
    if (bytes <= 0) return;
    est.host_terms.push_back({name, bytes, formula});
    est.host_bytes += bytes;
    if (pinned) est.host_pinned_bytes += bytes;
  };
  if (gpu) {
    if (p.dit == Placement::kStreamed)
      host("DiT weights (pinned, streamed)", experts * dit.total_bytes, fmt_num(experts) + " expert(s)", true);
    if (p.text == Placement::kStreamed) host("text encoder weights (pinned, streamed)", t5.total_bytes, "", true);
    if (p.text == Placement::kCpu) {
      host("text encoder weights (CPU)", t5_weights(m.t5, WeightFormat::kBF16).total_bytes, "as stored (bf16)", false);
      std::vector<MemTerm> terms;
      host("text encoder activations (CPU, f32)", t5_activation_bytes(m.t5, prompts, m.text_len, false, terms), "", false);
    }
    if (p.vae == Placement::kOffloaded) host("VAE weights (pinned)", vae_all, "", true);
  } else {
    host("peak of the CPU stages", est.peak_device, "weights + activations (every component loaded)", false);
  }
  const double video = 3.0 * w.frames * w.width * w.height;
  host("output video (f32 + 8-bit frames)", video * 5, "3*frames*W*H*(4+1)", false);
  return est;
}

// ---------------------------------------------------------------------------------------------
// CUDA-specific terms and the quantities `wan22 bench` measures

MemTerm dit_quantized_input_term(const models::DitShape& d, const LatentGrid& g, int batch, int segments,
                                 WeightFormat f) {
  if (f != WeightFormat::kFP8 && f != WeightFormat::kInt8) return {"quantized GEMM input", 0, ""};
  const double Ls = std::ceil(static_cast<double>(g.tokens) / std::max(1, segments));
  return {"quantized GEMM input (1 B per element of the FFN down input)",
          batch * Ls * static_cast<double>(d.ffn_dim),
          "b*(L/N)*ffn*1 (the activation quantised per token before each fp8 GEMM; the largest is the "
          "FFN hidden)"};
}

std::vector<MemTerm> vae_cuda_decode_terms(const ModelSpec& m, const Workload& w, const Plan& p) {
  const LatentGrid g = latent_grid(m, w.width, w.height, w.frames);
  const int s = m.vae_stride_s();
  // VaeCuda::decode_tiled: square regions of `tile` latent pixels (the plan's tile / stride),
  // each decoded through every causal chunk; untiled when the tile covers the latent.
  const int64_t tile = p.vae_tile > 0 ? std::max<int64_t>(1, p.vae_tile / s) : 0;
  const bool tiled = tile > 0 && (tile < g.height || tile < g.width);
  const int64_t th = tiled ? std::min(tile, g.height) : g.height;
  const int64_t tw = tiled ? std::min(tile, g.width) : g.width;
  const double act = p.vae_format == WeightFormat::kF32 ? 4.0 : 2.0;
  const VaeCudaDecodePeak d =
      vae_cuda_decode_peak(m.vae, g.frames, th, tw, std::max(1, p.vae_chunk), act, p.vae_reuse_buffers);
  const std::string region = (tiled ? "tile " : "untiled ") + fmt_num(static_cast<double>(tw)) + "x" +
                             fmt_num(static_cast<double>(th)) + " latent px";
  const double VF = static_cast<double>(1 + m.vae_stride_t() * (g.frames - 1));
  const double VH = static_cast<double>(g.height * s), VW = static_cast<double>(g.width * s);
  const double C = static_cast<double>(m.vae.in_channels);
  std::vector<MemTerm> t;
  t.push_back({"VAE decode buffers at the peak (" + d.where + ")", d.peak_bytes - d.slot_bytes - d.pooled_bytes,
               "live activations, conv stages and outputs, replayed from the CUDA decoder's requests (" + region +
                   ")"});
  t.push_back({"VAE causal cache slots", d.slot_bytes, "2 frames of every causal conv's input, " + region});
  if (d.pooled_bytes > 0)
    t.push_back({"VAE buffer pool (reuse on)", d.pooled_bytes,
                 "freed buffers the pool keeps for reuse (sizes within 25%, dropped after 2 idle chunks)"});
  if (tiled && p.vae_tiles_to_host) {
    // Tiled: each tile's video (every frame) is decoded on the device, copied to the host and
    // blended there (VaeCuda::decode_tiled_to_host); the whole video never sits on the device.
    t.push_back({"decoded tile video (f32, on the device)",
                 C * VF * static_cast<double>(th * s) * static_cast<double>(tw * s) * 4, "C*frames*th*tw*4"});
    t.push_back({"tile blend weights (f32)", VH * VW * 4, "H*W*4"});
  } else {
    t.push_back({"decoded video (f32, on the device)", C * VF * VH * VW * 4, "C*frames*H*W*4"});
    if (tiled) t.push_back({"tile blend weights (f32)", VH * VW * 4, "H*W*4"});
  }
  return t;
}

double device_weight_bytes(const ModelSpec& m, const Plan& p, const LoadedComponents& c) {
  double b = 0;
  if (p.dit == Placement::kResident) b += m.experts * dit_weights(m.dit, p.dit_format).total_bytes;
  if (c.text_encoder && p.text == Placement::kResident) b += t5_weights(m.t5, p.text_format).total_bytes;
  if (p.vae == Placement::kResident) {
    if (c.vae_decoder) b += vae_cuda_decoder_weight_bytes(m.vae, format_bytes(p.vae_format));
    if (c.vae_encoder) b += vae_weights(m.vae, p.vae_format, false).total_bytes;
  }
  return b;
}

double dit_forward_bytes(const ModelSpec& m, const Workload& w, const Plan& p, int batch) {
  const LatentGrid g = latent_grid(m, w.width, w.height, w.frames);
  const bool i2v = w.image_to_video || m.needs_image;
  double b = 0;
  for (const auto& t : dit_activation_terms(m.dit, g, m.text_len, batch, p.checkpoint_segments, true, i2v)) b += t.bytes;
  b += dit_quantized_input_term(m.dit, g, batch, p.checkpoint_segments, p.dit_format).bytes;
  if (p.dit == Placement::kStreamed) {
    const ComponentWeights dw = dit_weights(m.dit, p.dit_format);
    const int k = std::clamp(p.dit_resident_blocks, 0, dw.blocks);
    b += dw.other_bytes + k * dw.block_bytes + (k < dw.blocks ? 2 * dw.block_bytes : 0);
  }
  return b;
}

double vae_decode_bytes(const ModelSpec& m, const Workload& w, const Plan& p) {
  double b = 0;
  for (const auto& t : vae_cuda_decode_terms(m, w, p)) b += t.bytes;
  return b;
}

double text_encode_bytes(const ModelSpec& m, int prompts, const Plan& p) {
  std::vector<MemTerm> terms;
  return t5_activation_bytes(m.t5, prompts, m.text_len, p.on_gpu, terms);
}

}  // namespace wan22::plan
