// The Wan2.2 DiT forward on the GPU (see dit_cuda.h).
#include "backends/cuda/dit_cuda.h"

#include <cmath>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels.h"
#include "core/status.h"

namespace wan22::cuda {

namespace {

Device gpu() { return Device::cuda(0); }

bf16* bp(const Tensor& t) { return static_cast<bf16*>(t.raw_data()); }
float* fp(const Tensor& t) { return static_cast<float*>(t.raw_data()); }

Tensor dev_bf16(const Shape& s) { return Tensor::empty(s, DType::kBF16, gpu()); }
Tensor dev_f32(const Shape& s) { return Tensor::empty(s, DType::kF32, gpu()); }

// Uniform(-a, a) with a = sqrt(3 / fan_in): unit-variance outputs for unit-variance inputs.
void rand_bf16(Tensor& t, const Shape& s, uint64_t seed, double fan_in, cudaStream_t st, double gain = 1.0) {
  t = dev_bf16(s);
  const float a = static_cast<float>(gain * std::sqrt(3.0 / fan_in));
  fill_uniform_bf16(bp(t), t.numel(), seed, -a, a, st);
}
void rand_f32(Tensor& t, const Shape& s, uint64_t seed, float lo, float hi, cudaStream_t st) {
  t = dev_f32(s);
  fill_uniform_f32(fp(t), t.numel(), seed, lo, hi, st);
}

// Wan's sinusoidal_embedding_1d for one position, in double: [cos(t f_i), sin(t f_i)].
std::vector<float> sinusoid(int64_t dim, double t) {
  const int64_t half = dim / 2;
  std::vector<float> v(static_cast<size_t>(dim));
  for (int64_t i = 0; i < half; ++i) {
    const double f = std::pow(10000.0, -static_cast<double>(i) / static_cast<double>(half));
    v[static_cast<size_t>(i)] = static_cast<float>(std::cos(t * f));
    v[static_cast<size_t>(half + i)] = static_cast<float>(std::sin(t * f));
  }
  return v;
}

}  // namespace

DitCuda::DitCuda(const DitConfig& cfg) : cfg_(cfg) {
  if (cfg.dim % cfg.heads != 0 || (cfg.head_dim() != 64 && cfg.head_dim() != 128)) {
    throw Error(ErrorCode::kInvalidArgument, "DitCuda: head dim must be 64 or 128 (dim " + std::to_string(cfg.dim) +
                                                 ", heads " + std::to_string(cfg.heads) + ")");
  }
  if (cfg.patch_t != 1) throw Error(ErrorCode::kUnsupported, "DitCuda: temporal patch size must be 1");
}

void DitCuda::init_random(uint64_t seed, cudaStream_t st) {
  const int64_t D = cfg_.dim, F = cfg_.ffn_dim;
  const int64_t pin = cfg_.in_dim * cfg_.patch_t * cfg_.patch_h * cfg_.patch_w;
  const int64_t pout = cfg_.out_dim * cfg_.patch_t * cfg_.patch_h * cfg_.patch_w;
  uint64_t s = seed * 1000003ull;
  auto next = [&]() { return ++s; };
  rand_bf16(w_.patch_w, {D, pin}, next(), static_cast<double>(pin), st);
  rand_bf16(w_.patch_b, {D}, next(), 1e4, st);
  rand_bf16(w_.text1_w, {D, cfg_.text_dim}, next(), static_cast<double>(cfg_.text_dim), st);
  rand_bf16(w_.text1_b, {D}, next(), 1e4, st);
  rand_bf16(w_.text2_w, {D, D}, next(), static_cast<double>(D), st);
  rand_bf16(w_.text2_b, {D}, next(), 1e4, st);
  rand_bf16(w_.time1_w, {D, cfg_.freq_dim}, next(), static_cast<double>(cfg_.freq_dim), st);
  rand_f32(w_.time1_b, {D}, next(), -0.01f, 0.01f, st);
  rand_bf16(w_.time2_w, {D, D}, next(), static_cast<double>(D), st);
  rand_f32(w_.time2_b, {D}, next(), -0.01f, 0.01f, st);
  rand_bf16(w_.proj_w, {6 * D, D}, next(), static_cast<double>(D), st, 0.1);
  rand_f32(w_.proj_b, {6 * D}, next(), -0.01f, 0.01f, st);
  rand_f32(w_.head_mod, {2, D}, next(), -0.02f, 0.02f, st);
  rand_bf16(w_.head_w, {pout, D}, next(), static_cast<double>(D), st);
  rand_bf16(w_.head_b, {pout}, next(), 1e4, st);
  w_.blocks.resize(static_cast<size_t>(cfg_.layers));
  for (auto& b : w_.blocks) {
    rand_f32(b.modulation, {6, D}, next(), -0.02f, 0.02f, st);
    rand_bf16(b.qkv_w, {3 * D, D}, next(), static_cast<double>(D), st);
    rand_bf16(b.qkv_b, {3 * D}, next(), 1e4, st);
    rand_bf16(b.o_w, {D, D}, next(), static_cast<double>(D), st);
    rand_bf16(b.o_b, {D}, next(), 1e4, st);
    rand_f32(b.norm_q, {D}, next(), 0.9f, 1.1f, st);
    rand_f32(b.norm_k, {D}, next(), 0.9f, 1.1f, st);
    rand_f32(b.norm3_w, {D}, next(), 0.9f, 1.1f, st);
    rand_f32(b.norm3_b, {D}, next(), -0.02f, 0.02f, st);
    rand_bf16(b.cq_w, {D, D}, next(), static_cast<double>(D), st);
    rand_bf16(b.cq_b, {D}, next(), 1e4, st);
    rand_bf16(b.ckv_w, {2 * D, D}, next(), static_cast<double>(D), st);
    rand_bf16(b.ckv_b, {2 * D}, next(), 1e4, st);
    rand_bf16(b.co_w, {D, D}, next(), static_cast<double>(D), st);
    rand_bf16(b.co_b, {D}, next(), 1e4, st);
    rand_f32(b.cnorm_q, {D}, next(), 0.9f, 1.1f, st);
    rand_f32(b.cnorm_k, {D}, next(), 0.9f, 1.1f, st);
    rand_bf16(b.ffn1_w, {F, D}, next(), static_cast<double>(D), st);
    rand_bf16(b.ffn1_b, {F}, next(), 1e4, st);
    rand_bf16(b.ffn2_w, {D, F}, next(), static_cast<double>(F), st);
    rand_bf16(b.ffn2_b, {D}, next(), 1e4, st);
  }
}

void DitCuda::ensure_rope(int64_t f, int64_t h, int64_t w, cudaStream_t stream) {
  if (f == rope_f_ && h == rope_h_ && w == rope_w_) return;
  const int hd = static_cast<int>(cfg_.head_dim());
  const int64_t n = rope_table_size(f, h, w, hd);
  std::vector<float2> host(static_cast<size_t>(n));
  rope_table_fill(host.data(), f, h, w, hd);
  rope_ = dev_f32({2 * n});
  WAN22_CUDA_CHECK(cudaMemcpyAsync(rope_.raw_data(), host.data(), static_cast<size_t>(n) * sizeof(float2),
                                   cudaMemcpyHostToDevice, stream));
  WAN22_CUDA_CHECK(cudaStreamSynchronize(stream));  // `host` dies here
  rope_f_ = f, rope_h_ = h, rope_w_ = w;
}

bool DitCuda::use_cudnn_attention(bool on, std::string* why) {
  use_cudnn_ = false;
  if (!on) return true;
  if (!cudnn_) cudnn_ = std::make_unique<CudnnSdpa>();
  if (!cudnn_->available()) {
    if (why) *why = cudnn_->reason();
    return false;
  }
  use_cudnn_ = true;
  return true;
}

void DitCuda::attention(const FlashParams& p, cudaStream_t stream) {
  if (skip_attention_) return;
  if (use_cudnn_) {
    cudnn_->run(p, stream);
  } else {
    flash_attention_fwd(p, stream, variant_);
  }
}

double DitCuda::flops(int64_t tokens) const {
  const double L = static_cast<double>(tokens), D = static_cast<double>(cfg_.dim),
               F = static_cast<double>(cfg_.ffn_dim), T = static_cast<double>(cfg_.text_len);
  const double per_block = 2 * L * D * (3 * D + D + D + D + 2 * F)  // qkv, o, cross q, cross o, ffn
                           + 2 * T * D * 2 * D                      // cross k, v
                           + 4 * L * L * D + 4 * L * T * D;         // self and cross attention
  const double pin = static_cast<double>(cfg_.in_dim * cfg_.patch_h * cfg_.patch_w);
  const double embed = 2 * L * pin * D + 2 * T * D * (static_cast<double>(cfg_.text_dim) + D) +
                       2 * L * D * static_cast<double>(cfg_.out_dim * cfg_.patch_h * cfg_.patch_w);
  return per_block * static_cast<double>(cfg_.layers) + embed;
}

void DitCuda::forward(const DitInputs& in, Tensor& out, cudaStream_t st) {
  const int64_t D = cfg_.dim, H = cfg_.heads, hd = cfg_.head_dim(), FF = cfg_.ffn_dim, T = cfg_.text_len;
  if (in.latent == nullptr || in.context == nullptr) {
    throw Error(ErrorCode::kInvalidArgument, "DitCuda::forward: null latent or context");
  }
  if (in.height % cfg_.patch_h != 0 || in.width % cfg_.patch_w != 0 || in.frames <= 0) {
    throw Error(ErrorCode::kInvalidArgument, "DitCuda::forward: latent " + std::to_string(in.frames) + "x" +
                                                 std::to_string(in.height) + "x" + std::to_string(in.width) +
                                                 " not divisible by the patch size");
  }
  if (w_.blocks.size() != static_cast<size_t>(cfg_.layers)) {
    throw Error(ErrorCode::kInvalidArgument, "DitCuda::forward: weights not initialised");
  }
  const int64_t gf = in.frames, gh = in.height / cfg_.patch_h, gw = in.width / cfg_.patch_w;
  const int64_t L = gf * gh * gw;
  const int64_t pin = cfg_.in_dim * cfg_.patch_h * cfg_.patch_w;
  const int64_t pout = cfg_.out_dim * cfg_.patch_h * cfg_.patch_w;
  ensure_rope(gf, gh, gw, st);
  RopeTable rope{reinterpret_cast<const float2*>(rope_.raw_data()), gf, gh, gw, static_cast<int>(hd)};

  // ---- time embedding: one row per distinct timestep (row 0: t, row 1: 0 for a clean first frame) ----
  const int R = in.first_frame_clean ? 2 : 1;
  std::vector<float> sin_host = sinusoid(cfg_.freq_dim, in.timestep);
  if (R == 2) {
    std::vector<float> s0 = sinusoid(cfg_.freq_dim, 0.0);
    sin_host.insert(sin_host.end(), s0.begin(), s0.end());
  }
  Tensor sin_d = dev_f32({R, cfg_.freq_dim});
  WAN22_CUDA_CHECK(cudaMemcpyAsync(sin_d.raw_data(), sin_host.data(), sin_host.size() * sizeof(float),
                                   cudaMemcpyHostToDevice, st));
  Tensor e_mid = dev_f32({R, D}), e = dev_f32({R, D}), e0 = dev_f32({R, 6 * D});
  small_linear_f32(fp(sin_d), bp(w_.time1_w), fp(w_.time1_b), fp(e_mid), R, D, cfg_.freq_dim, false, true, st);
  small_linear_f32(fp(e_mid), bp(w_.time2_w), fp(w_.time2_b), fp(e), R, D, D, false, false, st);
  small_linear_f32(fp(e), bp(w_.proj_w), fp(w_.proj_b), fp(e0), R, 6 * D, D, true, false, st);
  // Per-token selection: rows [0, gh*gw) (latent frame 0) use row 1 when the first frame is clean.
  auto tokvec = [&](const float* base, int64_t row_stride) {
    if (R == 1) return TokenVec::same(base);
    return TokenVec{base + row_stride, base, gh * gw, L};
  };

  // ---- embeddings ----
  Tensor patches = dev_bf16({L, pin});
  patchify_bf16(in.latent, bp(patches), cfg_.in_dim, gf, in.height, in.width, cfg_.patch_h, cfg_.patch_w, st);
  Tensor xb = dev_bf16({L, D});
  gemm_.linear_bf16(bp(patches), bp(w_.patch_w), bp(w_.patch_b), bp(xb), L, D, pin, Epilogue::kBias, st);
  patches = Tensor();
  Tensor x = dev_f32({L, D});
  bf16_to_f32(bp(xb), fp(x), L * D, st);
  xb = Tensor();

  Tensor ctx_mid = dev_bf16({T, D}), ctx = dev_bf16({T, D});
  gemm_.linear_bf16(in.context, bp(w_.text1_w), bp(w_.text1_b), bp(ctx_mid), T, D, cfg_.text_dim, Epilogue::kBiasGelu,
                    st);
  gemm_.linear_bf16(bp(ctx_mid), bp(w_.text2_w), bp(w_.text2_b), bp(ctx), T, D, D, Epilogue::kBias, st);
  ctx_mid = Tensor();

  // ---- work buffers ----
  Tensor xn = dev_bf16({L, D});
  Tensor qkv = dev_bf16({L, 3 * D});
  Tensor attn = dev_bf16({L, D});
  Tensor y = dev_bf16({L, D});
  Tensor hidden = dev_bf16({L, FF});
  Tensor ckv = dev_bf16({T, 2 * D});
  // Modulation rows of every block (block.modulation + e0, fp32) and of the head, computed up
  // front so that each block's closing residual add can fuse the next block's LayerNorm.
  const int64_t nl = cfg_.layers;
  Tensor mods = dev_f32({nl, R, 6 * D});
  for (int64_t i = 0; i < nl; ++i) {
    add_rowvec_f32(fp(e0), fp(w_.blocks[static_cast<size_t>(i)].modulation), fp(mods) + i * R * 6 * D, R, 6 * D, st);
  }
  Tensor head_mod = dev_f32({R, 2 * D});
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < 2; ++c) {
      add_f32(fp(e) + r * D, fp(w_.head_mod) + c * D, fp(head_mod) + (r * 2 + c) * D, D, st);
    }
  }
  const float* hm = fp(head_mod);

  FlashParams self_p;
  self_p.q = bp(qkv);
  self_p.k = bp(qkv) + D;
  self_p.v = bp(qkv) + 2 * D;
  self_p.o = bp(attn);
  self_p.lq = self_p.lk = self_p.lv = AttnLayout{L * 3 * D, 3 * D, hd};
  self_p.lo = AttnLayout::contiguous(L, H, hd);
  self_p.batch = 1, self_p.len_q = L, self_p.len_k = L, self_p.heads = H, self_p.head_dim = static_cast<int>(hd);

  FlashParams cross_p;
  cross_p.q = bp(qkv);  // cross q reuses the qkv buffer with row stride D
  cross_p.k = bp(ckv);
  cross_p.v = bp(ckv) + D;
  cross_p.o = bp(attn);
  cross_p.lq = AttnLayout::contiguous(L, H, hd);
  cross_p.lk = cross_p.lv = AttnLayout{T * 2 * D, 2 * D, hd};
  cross_p.lo = AttnLayout::contiguous(L, H, hd);
  cross_p.batch = 1, cross_p.len_q = L, cross_p.len_k = T, cross_p.heads = H,
  cross_p.head_dim = static_cast<int>(hd);

  const RopeTable no_rope{};
  auto chunk = [&](int64_t layer, int c) { return tokvec(fp(mods) + layer * R * 6 * D + c * D, 6 * D); };
  layernorm_modulate(fp(x), bp(xn), L, D, cfg_.eps, nullptr, nullptr, chunk(0, 0), chunk(0, 1), st);
  for (int64_t i = 0; i < nl; ++i) {
    const DitBlockWeights& b = w_.blocks[static_cast<size_t>(i)];
    // self-attention (xn = LN(x) * (1 + scale) + shift is ready)
    gemm_.linear_bf16(bp(xn), bp(b.qkv_w), bp(b.qkv_b), bp(qkv), L, 3 * D, D, Epilogue::kBias, st);
    rmsnorm_rope(bp(qkv), 3 * D, bp(qkv), 3 * D, L, D, fp(b.norm_q), cfg_.eps, rope, L, st);
    rmsnorm_rope(bp(qkv) + D, 3 * D, bp(qkv) + D, 3 * D, L, D, fp(b.norm_k), cfg_.eps, rope, L, st);
    attention(self_p, st);
    gemm_.linear_bf16(bp(attn), bp(b.o_w), bp(b.o_b), bp(y), L, D, D, Epilogue::kBias, st);
    // x += gate * y, then norm3 (affine, no modulation)
    residual_layernorm_modulate(fp(x), bp(y), D, chunk(i, 2), bp(xn), L, D, cfg_.eps, fp(b.norm3_w), fp(b.norm3_b),
                                TokenVec{}, TokenVec{}, st);

    // cross-attention
    gemm_.linear_bf16(bp(xn), bp(b.cq_w), bp(b.cq_b), bp(qkv), L, D, D, Epilogue::kBias, st);
    rmsnorm_rope(bp(qkv), D, bp(qkv), D, L, D, fp(b.cnorm_q), cfg_.eps, no_rope, L, st);
    gemm_.linear_bf16(bp(ctx), bp(b.ckv_w), bp(b.ckv_b), bp(ckv), T, 2 * D, D, Epilogue::kBias, st);
    rmsnorm_rope(bp(ckv), 2 * D, bp(ckv), 2 * D, T, D, fp(b.cnorm_k), cfg_.eps, no_rope, T, st);
    attention(cross_p, st);
    gemm_.linear_bf16(bp(attn), bp(b.co_w), bp(b.co_b), bp(y), L, D, D, Epilogue::kBias, st);
    // x += y, then LN * (1 + c_scale) + c_shift for the FFN
    residual_layernorm_modulate(fp(x), bp(y), D, TokenVec{}, bp(xn), L, D, cfg_.eps, nullptr, nullptr, chunk(i, 3),
                                chunk(i, 4), st);

    // feed-forward; its residual add fuses the next block's (or the head's) modulated LayerNorm
    gemm_.linear_bf16(bp(xn), bp(b.ffn1_w), bp(b.ffn1_b), bp(hidden), L, FF, D, Epilogue::kBiasGelu, st);
    gemm_.linear_bf16(bp(hidden), bp(b.ffn2_w), bp(b.ffn2_b), bp(y), L, D, FF, Epilogue::kBias, st);
    const bool last = i + 1 == nl;
    residual_layernorm_modulate(fp(x), bp(y), D, chunk(i, 5), bp(xn), L, D, cfg_.eps, nullptr, nullptr,
                                last ? tokvec(hm, 2 * D) : chunk(i + 1, 0), last ? tokvec(hm + D, 2 * D) : chunk(i + 1, 1),
                                st);
  }
  hidden = Tensor();

  // ---- head: xn = LN(x) * (1 + (head_mod[1] + e)) + (head_mod[0] + e) (fused above) -> Linear -> unpatchify ----
  Tensor head_out = dev_bf16({L, pout});
  gemm_.linear_bf16(bp(xn), bp(w_.head_w), bp(w_.head_b), bp(head_out), L, pout, D, Epilogue::kBias, st);
  const Shape out_shape{cfg_.out_dim, gf, in.height, in.width};
  if (!out.defined() || out.shape() != out_shape || out.dtype() != DType::kF32 || !out.device().is_cuda()) {
    out = dev_f32(out_shape);
  }
  unpatchify_f32(bp(head_out), pout, fp(out), cfg_.out_dim, gf, gh, gw, cfg_.patch_h, cfg_.patch_w, st);
  // The work buffers go back to the caching allocator on return (their reuse is ordered by the
  // stream); the host vector of the sinusoid upload must outlive the copy, so wait here.
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
}

}  // namespace wan22::cuda
