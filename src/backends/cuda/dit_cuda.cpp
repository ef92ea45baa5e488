// The Wan2.2 DiT forward on the GPU (see dit_cuda.h): block packs, weight streaming, the batched
// forward (CFG pair), the block loop over all tokens, attention head slicing and random weights.
// The WeightStore loader is dit_cuda_load.cpp, the segmented block loop dit_cuda_segments.cpp.
#include "backends/cuda/device_tensor.h"
#include "backends/cuda/dit_cuda.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/dit_cuda_pack.h"
#include "backends/cuda/dit_cuda_step.h"
#include "backends/cuda/dit_fp8.h"
#include "backends/cuda/dit_int8.h"
#include "backends/cuda/kernels.h"
#include "core/status.h"

namespace wan22::cuda {

namespace {

// Uniform(-a, a) with a = sqrt(3 / fan_in): unit-variance outputs for unit-variance inputs.
void rand_bf16(Tensor& t, uint64_t seed, double fan_in, cudaStream_t st, double gain = 1.0) {
  const float a = static_cast<float>(gain * std::sqrt(3.0 / fan_in));
  fill_uniform_bf16(bp(t), t.numel(), seed, -a, a, st);
}
void rand_bf16(Tensor& t, const Shape& s, uint64_t seed, double fan_in, cudaStream_t st, double gain = 1.0) {
  t = dev_bf16(s);
  rand_bf16(t, seed, fan_in, st, gain);
}
void rand_f32(Tensor& t, uint64_t seed, float lo, float hi, cudaStream_t st) {
  fill_uniform_f32(fp(t), t.numel(), seed, lo, hi, st);
}
void rand_f32(Tensor& t, const Shape& s, uint64_t seed, float lo, float hi, cudaStream_t st) {
  t = dev_f32(s);
  rand_f32(t, seed, lo, hi, st);
}

// Wan's sinusoidal time embedding for one position: [cos(t w_i), sin(t w_i)], w_i = 10000^(-i/half),
// in double (official) or float32 (Diffusers' get_timestep_embedding).
std::vector<float> sinusoid(int64_t dim, double t, bool f64) {
  const int64_t half = dim / 2;
  std::vector<float> v(static_cast<size_t>(dim));
  for (int64_t i = 0; i < half; ++i) {
    if (f64) {
      const double f = std::pow(10000.0, -static_cast<double>(i) / static_cast<double>(half));
      v[static_cast<size_t>(i)] = static_cast<float>(std::cos(t * f));
      v[static_cast<size_t>(half + i)] = static_cast<float>(std::sin(t * f));
    } else {
      const float e = static_cast<float>(-std::log(10000.0)) * static_cast<float>(i);
      const float w = std::exp(e / static_cast<float>(half));
      const float a = static_cast<float>(t) * w;
      v[static_cast<size_t>(i)] = std::cos(a);
      v[static_cast<size_t>(half + i)] = std::sin(a);
    }
  }
  return v;
}

[[noreturn]] void bad_input(const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, "DitCuda::forward: " + msg);
}

}  // namespace

// ---------------- weight streaming: copy stream, events, two device slots ----------------
struct DitCuda::Streamer {
  cudaStream_t copy = nullptr;
  cudaEvent_t ready[2] = {nullptr, nullptr};  // slot s holds its block (recorded on `copy`)
  cudaEvent_t freed[2] = {nullptr, nullptr};  // the compute stream is done with slot s
  Tensor slot[2];
  DitBlockWeights view[2];

  explicit Streamer(const detail::PackLayout& layout) {
    WAN22_CUDA_CHECK(cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking));
    for (int s = 0; s < 2; ++s) {
      WAN22_CUDA_CHECK(cudaEventCreateWithFlags(&ready[s], cudaEventDisableTiming));
      WAN22_CUDA_CHECK(cudaEventCreateWithFlags(&freed[s], cudaEventDisableTiming));
      slot[s] = Tensor::empty({static_cast<int64_t>(layout.bytes)}, DType::kU8, gpu());
      detail::pack_views(layout, slot[s], view[s]);
    }
  }
  ~Streamer() {
    if (copy) cudaStreamSynchronize(copy);
    for (int s = 0; s < 2; ++s) {
      if (ready[s]) cudaEventDestroy(ready[s]);
      if (freed[s]) cudaEventDestroy(freed[s]);
    }
    if (copy) cudaStreamDestroy(copy);
  }
  Streamer(const Streamer&) = delete;
  Streamer& operator=(const Streamer&) = delete;

  // Copies host pack `src` into slot s once the compute stream has released it.
  void issue(int s, const Tensor& src) {
    WAN22_CUDA_CHECK(cudaStreamWaitEvent(copy, freed[s], 0));
    WAN22_CUDA_CHECK(cudaMemcpyAsync(slot[s].raw_data(), src.raw_data(), src.nbytes(), cudaMemcpyHostToDevice, copy));
    WAN22_CUDA_CHECK(cudaEventRecord(ready[s], copy));
  }
};

DitCuda::DitCuda(const DitConfig& cfg) : cfg_(cfg) {
  const std::string what = "DitCuda: dim " + std::to_string(cfg.dim) + ", heads " + std::to_string(cfg.heads);
  if (cfg.dim <= 0 || cfg.heads <= 0 || cfg.dim % cfg.heads != 0) {
    throw Error(ErrorCode::kInvalidArgument, what + ": dim must be a positive multiple of heads");
  }
  const int64_t hd = cfg.head_dim();
  if (hd != 32 && hd != 64 && hd != 128) {
    throw Error(ErrorCode::kUnsupported, what + ": head dim must be 32, 64 or 128, got " + std::to_string(hd));
  }
  if (cfg.patch_t != 1) throw Error(ErrorCode::kUnsupported, "DitCuda: temporal patch size must be 1");
  if (cfg.layers <= 0 || cfg.text_len <= 0 || cfg.ffn_dim <= 0 || cfg.freq_dim <= 0 || cfg.freq_dim % 2 != 0 ||
      cfg.in_dim <= 0 || cfg.out_dim <= 0 || cfg.text_dim <= 0 || cfg.patch_h <= 0 || cfg.patch_w <= 0) {
    throw Error(ErrorCode::kInvalidArgument, "DitCuda: layers, text_len, ffn_dim, in/out/text dims and patch sizes "
                                             "must be positive and freq_dim even");
  }
}

DitCuda::~DitCuda() = default;

void DitCuda::allocate_blocks(WeightFormat format) {
  streamer_.reset();
  format_ = format;
  const detail::PackLayout layout = detail::pack_layout(cfg_, format);
  const size_t nl = static_cast<size_t>(cfg_.layers);
  w_.blocks.assign(nl, DitBlockWeights{});
  packs_.assign(nl, Tensor());
  for (size_t i = 0; i < nl; ++i) {
    packs_[i] = Tensor::empty({static_cast<int64_t>(layout.bytes)}, DType::kU8, gpu());
    w_.blocks[i].modulation = dev_f32({6, cfg_.dim});
    detail::pack_views(layout, packs_[i], w_.blocks[i]);
  }
  resident_ = static_cast<int>(cfg_.layers);
}

void DitCuda::start_streaming() {
  if (!streamer_) streamer_ = std::make_unique<Streamer>(detail::pack_layout(cfg_, format_));
}

void DitCuda::stop_streaming() { streamer_.reset(); }

void DitCuda::rebuild_views(size_t block) {
  detail::pack_views(detail::pack_layout(cfg_, format_), packs_[block], w_.blocks[block]);
}

size_t DitCuda::block_pack_bytes() const { return detail::pack_layout(cfg_, format_).bytes; }

size_t DitCuda::device_weight_bytes() const {
  size_t n = 0;
  for (const Tensor& p : packs_) {
    if (p.defined() && p.device().is_cuda()) n += p.nbytes();
  }
  if (streamer_) n += streamer_->slot[0].nbytes() + streamer_->slot[1].nbytes();
  for (const Tensor* t : {&w_.patch_w, &w_.patch_b, &w_.text1_w, &w_.text1_b, &w_.text2_w, &w_.text2_b, &w_.time1_w,
                         &w_.time1_b, &w_.time2_w, &w_.time2_b, &w_.proj_w, &w_.proj_b, &w_.head_mod, &w_.head_w,
                         &w_.head_b}) {
    if (t->defined()) n += t->nbytes();
  }
  for (const auto& b : w_.blocks) {
    if (b.modulation.defined()) n += b.modulation.nbytes();
  }
  return n;
}

size_t DitCuda::host_weight_bytes() const {
  size_t n = 0;
  for (const Tensor& p : packs_) {
    if (p.defined() && p.device().is_cpu()) n += p.nbytes();
  }
  return n;
}

void DitCuda::init_random(uint64_t seed, cudaStream_t st, WeightFormat format) {
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

  allocate_blocks(format);
  const bool quantised = format == WeightFormat::kFP8 || format == WeightFormat::kInt8;
  // fp8 / int8: each matrix is drawn in bf16 into a scratch buffer (the same draws as kBF16) and
  // quantised per row into the pack.
  Tensor scratch;
  if (quantised) scratch = dev_bf16({std::max(4 * D * D, 2 * F * D)});
  auto mat = [&](Tensor& w, Tensor& sc, double fan_in) {
    if (!quantised) {
      rand_bf16(w, next(), fan_in, st);
      return;
    }
    Tensor tmp = Tensor::from_blob(scratch.raw_data(), w.shape(), DType::kBF16, gpu(), scratch.storage());
    rand_bf16(tmp, next(), fan_in, st);
    if (format == WeightFormat::kFP8) {
      quantize_rows_e4m3(bp(tmp), w.dim(0), w.dim(1), static_cast<uint8_t*>(w.raw_data()), fp(sc), st);
    } else {
      quantize_rows_int8(bp(tmp), w.dim(0), w.dim(1), static_cast<int8_t*>(w.raw_data()), fp(sc), st);
    }
  };
  for (auto& b : w_.blocks) {
    rand_f32(b.modulation, next(), -0.02f, 0.02f, st);
    mat(b.qkv_w, b.qkv_s, static_cast<double>(D));
    rand_bf16(b.qkv_b, next(), 1e4, st);
    mat(b.o_w, b.o_s, static_cast<double>(D));
    rand_bf16(b.o_b, next(), 1e4, st);
    rand_f32(b.norm_q, next(), 0.9f, 1.1f, st);
    rand_f32(b.norm_k, next(), 0.9f, 1.1f, st);
    rand_f32(b.norm3_w, next(), 0.9f, 1.1f, st);
    rand_f32(b.norm3_b, next(), -0.02f, 0.02f, st);
    mat(b.cq_w, b.cq_s, static_cast<double>(D));
    rand_bf16(b.cq_b, next(), 1e4, st);
    mat(b.ckv_w, b.ckv_s, static_cast<double>(D));
    rand_bf16(b.ckv_b, next(), 1e4, st);
    mat(b.co_w, b.co_s, static_cast<double>(D));
    rand_bf16(b.co_b, next(), 1e4, st);
    rand_f32(b.cnorm_q, next(), 0.9f, 1.1f, st);
    rand_f32(b.cnorm_k, next(), 0.9f, 1.1f, st);
    mat(b.ffn1_w, b.ffn1_s, static_cast<double>(D));
    rand_bf16(b.ffn1_b, next(), 1e4, st);
    mat(b.ffn2_w, b.ffn2_s, static_cast<double>(F));
    rand_bf16(b.ffn2_b, next(), 1e4, st);
  }
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));  // the quantisation scratch is reused per matrix in stream order
}

void DitCuda::set_resident_blocks(int n, cudaStream_t st) {
  const int nl = static_cast<int>(cfg_.layers);
  if (packs_.size() != static_cast<size_t>(nl)) {
    throw Error(ErrorCode::kInvalidArgument, "DitCuda::set_resident_blocks: weights not initialised");
  }
  if (n < 0 || n > nl) n = nl;
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
  if (streamer_) WAN22_CUDA_CHECK(cudaStreamSynchronize(streamer_->copy));
  if (n == nl) streamer_.reset();  // free the slots before packs come back
  for (int i = 0; i < nl; ++i) {
    Tensor& p = packs_[static_cast<size_t>(i)];
    const bool want_device = i < n;
    if (want_device == p.device().is_cuda()) continue;
    Tensor moved = want_device ? Tensor::empty({static_cast<int64_t>(p.nbytes())}, DType::kU8, gpu())
                               : pinned_empty({static_cast<int64_t>(p.nbytes())}, DType::kU8);
    WAN22_CUDA_CHECK(cudaMemcpy(moved.raw_data(), p.raw_data(), p.nbytes(), cudaMemcpyDefault));
    p = moved;
    rebuild_views(static_cast<size_t>(i));
  }
  resident_ = n;
  if (n < nl) start_streaming();
}

void DitCuda::release_device_weights(cudaStream_t st) {
  set_resident_blocks(0, st);
  stop_streaming();  // the two slots; the next forward creates them again
}

void DitCuda::ensure_rope(int64_t f, int64_t h, int64_t w, cudaStream_t stream) {
  if (f == rope_f_ && h == rope_h_ && w == rope_w_) return;
  const int hd = static_cast<int>(cfg_.head_dim());
  const int64_t n = rope_table_size(f, h, w, hd);
  std::vector<float2> host(static_cast<size_t>(n));
  rope_table_fill(host.data(), f, h, w, hd, cfg_.rope_theta);
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
  const int64_t group = attention_slice_ > 0 ? std::min<int64_t>(attention_slice_, p.heads) : p.heads;
  if (group < p.heads) {
    // head slicing: each group of heads is one call on the same views, offset by its first head
    for (int64_t h0 = 0; h0 < p.heads; h0 += group) {
      FlashParams g = p;
      g.heads = std::min(group, p.heads - h0);
      g.q = p.q + h0 * p.lq.head;
      g.k = p.k + h0 * p.lk.head;
      g.v = p.v + h0 * p.lv.head;
      g.o = p.o + h0 * p.lo.head;
      attention_call(g, stream);
    }
    return;
  }
  attention_call(p, stream);
}

void DitCuda::attention_call(const FlashParams& p, cudaStream_t stream) {
  if (use_cudnn_) {
    try {
      cudnn_->run(p, stream);
      return;
    } catch (const Error& e) {
      // no cuDNN engine for this shape (e.g. a head dim it does not fuse): the own kernel runs it
      if (e.code() != ErrorCode::kUnsupported) throw;
      cudnn_note_ = std::string("cuDNN fell back to the own kernel: ") + e.what();
    }
    flash_attention_fwd(p, stream, variant_);
  } else {
    flash_attention_fwd(p, stream, variant_);
  }
}

void DitCuda::linear(const bf16* x, const Tensor& w, const Tensor& scale, const Tensor& bias, bf16* y, int64_t m,
                     Epilogue ep, cudaStream_t stream) {
  linear_rows(x, w, scale, bias, 0, w.dim(0), y, m, ep, stream);
}

void DitCuda::linear_rows(const bf16* x, const Tensor& w, const Tensor& scale, const Tensor& bias, int64_t row0,
                          int64_t rows, bf16* y, int64_t m, Epilogue ep, cudaStream_t stream) {
  const int64_t k = w.dim(1);
  WAN22_CHECK(row0 >= 0 && rows > 0 && row0 + rows <= w.dim(0), "DitCuda::linear_rows: rows out of range");
  const size_t off = static_cast<size_t>(row0 * k) * dtype_size(w.dtype());
  const void* wp = static_cast<const unsigned char*>(w.raw_data()) + off;
  const void* bias_p = static_cast<const unsigned char*>(bias.raw_data()) + static_cast<size_t>(row0) * sizeof(bf16);
  if ((reinterpret_cast<uintptr_t>(bias_p) & 255u) != 0) {
    // a bias slice off cuBLASLt's assumed 256-byte alignment (row0 * 2 bytes, small dims): an
    // aligned copy (stream-ordered reuse of one scratch)
    if (!bias_scratch_.defined() || bias_scratch_.numel() < rows) bias_scratch_ = dev_bf16({rows});
    WAN22_CUDA_CHECK(cudaMemcpyAsync(bias_scratch_.raw_data(), bias_p, static_cast<size_t>(rows) * sizeof(bf16),
                                     cudaMemcpyDeviceToDevice, stream));
    bias_p = bias_scratch_.raw_data();
  }
  if (w.dtype() == DType::kF8E4M3) {
    if (!fp8_) fp8_ = std::make_unique<Fp8Linear>();
    fp8_->linear(gemm_, x, wp, fp(scale) + row0, bias_p, y, m, rows, k, ep, stream);
    return;
  }
  if (w.dtype() == DType::kI8) {
    if (!int8_) int8_ = std::make_unique<Int8Linear>();
    int8_->linear(gemm_, x, static_cast<const int8_t*>(wp), fp(scale) + row0, bias_p, y, m, rows, k, ep, stream);
    return;
  }
  gemm_.linear_bf16(x, wp, bias_p, y, m, rows, k, ep, stream);
}

std::string DitCuda::fp8_note() const { return fp8_ ? fp8_->mode_note() : std::string(); }

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
  run(in, {Context{in.context, in.context_len}}, {&out}, st);
}

void DitCuda::forward_cfg(const DitInputs& in, const bf16* context_uncond, int64_t uncond_len, Tensor& out_cond,
                          Tensor& out_uncond, cudaStream_t st, CfgBatching mode) {
  if (mode == CfgBatching::kAuto) {
    const int64_t tokens = in.frames * (in.height / std::max(1, cfg_.patch_h)) * (in.width / std::max(1, cfg_.patch_w));
    mode = tokens <= cfg_batch_max_tokens_ ? CfgBatching::kBatch2 : CfgBatching::kSequential;
  }
  if (mode == CfgBatching::kBatch2) {
    run(in, {Context{in.context, in.context_len}, Context{context_uncond, uncond_len}}, {&out_cond, &out_uncond}, st);
    return;
  }
  run(in, {Context{in.context, in.context_len}}, {&out_cond}, st);
  run(in, {Context{context_uncond, uncond_len}}, {&out_uncond}, st);
}

void DitCuda::run(const DitInputs& in, const std::vector<Context>& ctxs, const std::vector<Tensor*>& outs,
                  cudaStream_t st) {
  const int64_t D = cfg_.dim, hd = cfg_.head_dim(), T = cfg_.text_len;
  const int64_t B = static_cast<int64_t>(ctxs.size());
  if (in.latent == nullptr) bad_input("null latent");
  for (const Context& c : ctxs) {
    if (c.data == nullptr) bad_input("null context");
    if (c.rows > T) {
      bad_input("context has " + std::to_string(c.rows) + " rows, more than text_len " + std::to_string(T));
    }
  }
  if (in.frames <= 0 || in.height <= 0 || in.width <= 0 || in.height % cfg_.patch_h != 0 ||
      in.width % cfg_.patch_w != 0) {
    bad_input("latent " + std::to_string(in.frames) + "x" + std::to_string(in.height) + "x" + std::to_string(in.width) +
              " is empty or not divisible by the patch size " + std::to_string(cfg_.patch_h) + "x" +
              std::to_string(cfg_.patch_w));
  }
  if (w_.blocks.size() != static_cast<size_t>(cfg_.layers) || !w_.patch_w.defined()) {
    bad_input("weights not initialised (call load() or init_random())");
  }
  Step s;
  s.B = B;
  s.dim = D;
  s.gf = in.frames, s.gh = in.height / cfg_.patch_h, s.gw = in.width / cfg_.patch_w;
  s.L = s.gf * s.gh * s.gw;
  s.LB = B * s.L;
  const int64_t L = s.L, gf = s.gf, gh = s.gh, gw = s.gw;
  const int64_t pin = cfg_.in_dim * cfg_.patch_h * cfg_.patch_w;
  const int64_t pout = cfg_.out_dim * cfg_.patch_h * cfg_.patch_w;
  ensure_rope(gf, gh, gw, st);
  s.rope = RopeTable{reinterpret_cast<const float2*>(rope_.raw_data()), gf, gh, gw, static_cast<int>(hd)};

  // ---- weight streaming: the first two streamed blocks start copying now ----
  const int nl = static_cast<int>(cfg_.layers);
  if (resident_ < nl && !streamer_) start_streaming();  // slots released by release_device_weights()
  s.first_streamed = streamer_ ? resident_ : nl;
  if (streamer_) {
    for (int k = 0; k < 2; ++k) {
      if (s.first_streamed + k < nl) streamer_->issue(k, packs_[static_cast<size_t>(s.first_streamed + k)]);
    }
  }

  // ---- time embedding: one row per distinct timestep (row 0: t, row 1: the clean first frame) ----
  const int R = in.first_frame_clean ? 2 : 1;
  s.R = R;
  std::vector<float> sin_host = sinusoid(cfg_.freq_dim, in.timestep, cfg_.sinusoid_f64);
  if (R == 2) {
    std::vector<float> s0 = sinusoid(cfg_.freq_dim, in.first_frame_timestep, cfg_.sinusoid_f64);
    sin_host.insert(sin_host.end(), s0.begin(), s0.end());
  }
  Tensor sin_d = dev_f32({R, cfg_.freq_dim});
  WAN22_CUDA_CHECK(cudaMemcpyAsync(sin_d.raw_data(), sin_host.data(), sin_host.size() * sizeof(float),
                                   cudaMemcpyHostToDevice, st));
  Tensor e_mid = dev_f32({R, D}), e = dev_f32({R, D}), e0 = dev_f32({R, 6 * D});
  small_linear_f32(fp(sin_d), bp(w_.time1_w), fp(w_.time1_b), fp(e_mid), R, D, cfg_.freq_dim, false, true, st);
  small_linear_f32(fp(e_mid), bp(w_.time2_w), fp(w_.time2_b), fp(e), R, D, D, false, false, st);
  small_linear_f32(fp(e), bp(w_.proj_w), fp(w_.proj_b), fp(e0), R, 6 * D, D, true, false, st);

  // ---- patch embedding (the latent is shared by the batch: embedded once, copied) ----
  s.x = dev_f32({s.LB, D});
  {
    Tensor patches = dev_bf16({L, pin});
    patchify_bf16(in.latent, bp(patches), cfg_.in_dim, gf, in.height, in.width, cfg_.patch_h, cfg_.patch_w, st);
    Tensor xb = dev_bf16({L, D});
    gemm_.linear_bf16(bp(patches), bp(w_.patch_w), bp(w_.patch_b), bp(xb), L, D, pin, Epilogue::kBias, st);
    bf16_to_f32(bp(xb), fp(s.x), L * D, st);
    for (int64_t b = 1; b < B; ++b) {
      WAN22_CUDA_CHECK(cudaMemcpyAsync(fp(s.x) + b * L * D, fp(s.x), static_cast<size_t>(L * D) * sizeof(float),
                                       cudaMemcpyDeviceToDevice, st));
    }
  }

  // ---- text embedding over the zero-padded contexts ----
  s.ctx = dev_bf16({B * T, D});
  {
    Tensor ctx_in = dev_bf16({B * T, cfg_.text_dim});
    WAN22_CUDA_CHECK(cudaMemsetAsync(ctx_in.raw_data(), 0, ctx_in.nbytes(), st));
    for (int64_t b = 0; b < B; ++b) {
      const Context& c = ctxs[static_cast<size_t>(b)];
      const int64_t rows = c.rows < 0 ? T : c.rows;
      if (rows == 0) continue;
      WAN22_CUDA_CHECK(cudaMemcpyAsync(bp(ctx_in) + b * T * cfg_.text_dim, c.data,
                                       static_cast<size_t>(rows * cfg_.text_dim) * sizeof(bf16),
                                       cudaMemcpyDeviceToDevice, st));
    }
    Tensor ctx_mid = dev_bf16({B * T, D});
    gemm_.linear_bf16(bp(ctx_in), bp(w_.text1_w), bp(w_.text1_b), bp(ctx_mid), B * T, D, cfg_.text_dim,
                      Epilogue::kBiasGelu, st);
    gemm_.linear_bf16(bp(ctx_mid), bp(w_.text2_w), bp(w_.text2_b), bp(s.ctx), B * T, D, D, Epilogue::kBias, st);
  }

  // Modulation rows of every block (block.modulation + e0, fp32) and of the head, computed up
  // front so that each block's closing residual add can fuse the next block's LayerNorm.
  s.mods = dev_f32({nl, R, 6 * D});
  for (int64_t i = 0; i < nl; ++i) {
    add_rowvec_f32(fp(e0), fp(w_.blocks[static_cast<size_t>(i)].modulation), fp(s.mods) + i * R * 6 * D, R, 6 * D, st);
  }
  s.head_mod = dev_f32({R, 2 * D});
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < 2; ++c) {
      add_f32(fp(e) + r * D, fp(w_.head_mod) + c * D, fp(s.head_mod) + (r * 2 + c) * D, D, st);
    }
  }

  // ---- the blocks and the head's LayerNorm + linear layer ----
  if (segments_ > 1) {
    run_blocks_segmented(s, st);
  } else {
    run_blocks_whole(s, st);
  }

  // ---- unpatchify ----
  const Shape out_shape{cfg_.out_dim, gf, in.height, in.width};
  for (int64_t b = 0; b < B; ++b) {
    Tensor& out = *outs[static_cast<size_t>(b)];
    if (!out.defined() || out.shape() != out_shape || out.dtype() != DType::kF32 || !out.device().is_cuda()) {
      out = dev_f32(out_shape);
    }
    unpatchify_f32(bp(s.head_out) + b * L * pout, pout, fp(out), cfg_.out_dim, gf, gh, gw, cfg_.patch_h, cfg_.patch_w,
                   st);
  }
  // The work buffers go back to the caching allocator on return (their reuse is ordered by the
  // stream); the host vector of the sinusoid upload must outlive the copy, so wait here.
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
}

const DitBlockWeights& DitCuda::acquire_block(const Step& s, int i, cudaStream_t st) {
  if (i < s.first_streamed) return w_.blocks[static_cast<size_t>(i)];
  const int slot = (i - s.first_streamed) & 1;
  WAN22_CUDA_CHECK(cudaStreamWaitEvent(st, streamer_->ready[slot], 0));
  return streamer_->view[slot];
}

void DitCuda::release_block(const Step& s, int i, cudaStream_t st) {
  if (i < s.first_streamed) return;
  // the slot's weights are no longer read: the streamed block two ahead may overwrite it
  const int k = i - s.first_streamed, slot = k & 1;
  WAN22_CUDA_CHECK(cudaEventRecord(streamer_->freed[slot], st));
  const int next = i + 2;
  if (next < static_cast<int>(cfg_.layers)) streamer_->issue(slot, packs_[static_cast<size_t>(next)]);
}

// All tokens at once: the buffers are [B * L, ...] and every kernel runs once per block.
void DitCuda::run_blocks_whole(Step& s, cudaStream_t st) {
  const int64_t D = cfg_.dim, H = cfg_.heads, hd = cfg_.head_dim(), FF = cfg_.ffn_dim, T = cfg_.text_len;
  const int64_t B = s.B, L = s.L, LB = s.LB;
  const int64_t pout = cfg_.out_dim * cfg_.patch_h * cfg_.patch_w;
  const int nl = static_cast<int>(cfg_.layers);

  // ---- work buffers ----
  Tensor xn = dev_bf16({LB, D});
  Tensor qkv = dev_bf16({LB, 3 * D});
  Tensor attn = dev_bf16({LB, D});
  Tensor y = dev_bf16({LB, D});
  Tensor hidden = dev_bf16({LB, FF});
  Tensor ckv = dev_bf16({B * T, 2 * D});

  FlashParams self_p;
  self_p.q = bp(qkv);
  self_p.k = bp(qkv) + D;
  self_p.v = bp(qkv) + 2 * D;
  self_p.o = bp(attn);
  self_p.lq = self_p.lk = self_p.lv = AttnLayout{L * 3 * D, 3 * D, hd};
  self_p.lo = AttnLayout::contiguous(L, H, hd);
  self_p.batch = B, self_p.len_q = L, self_p.len_k = L, self_p.heads = H, self_p.head_dim = static_cast<int>(hd);

  FlashParams cross_p;
  cross_p.q = bp(qkv);  // cross q reuses the qkv buffer with row stride D
  cross_p.k = bp(ckv);
  cross_p.v = bp(ckv) + D;
  cross_p.o = bp(attn);
  cross_p.lq = AttnLayout::contiguous(L, H, hd);
  cross_p.lk = cross_p.lv = AttnLayout{T * 2 * D, 2 * D, hd};
  cross_p.lo = AttnLayout::contiguous(L, H, hd);
  cross_p.batch = B, cross_p.len_q = L, cross_p.len_k = T, cross_p.heads = H,
  cross_p.head_dim = static_cast<int>(hd);

  const RopeTable no_rope{};
  const RopeTable& rope = s.rope;
  layernorm_modulate(fp(s.x), bp(xn), LB, D, cfg_.eps, nullptr, nullptr, s.mod(0, 0), s.mod(0, 1), st);
  for (int i = 0; i < nl; ++i) {
    const DitBlockWeights& b = acquire_block(s, i, st);
    // self-attention (xn = LN(x) * (1 + scale) + shift is ready)
    linear(bp(xn), b.qkv_w, b.qkv_s, b.qkv_b, bp(qkv), LB, Epilogue::kBias, st);
    rmsnorm_rope(bp(qkv), 3 * D, bp(qkv), 3 * D, LB, D, fp(b.norm_q), cfg_.eps, rope, L, st);
    rmsnorm_rope(bp(qkv) + D, 3 * D, bp(qkv) + D, 3 * D, LB, D, fp(b.norm_k), cfg_.eps, rope, L, st);
    attention(self_p, st);
    linear(bp(attn), b.o_w, b.o_s, b.o_b, bp(y), LB, Epilogue::kBias, st);
    // x += gate * y, then norm3 (affine, no modulation)
    residual_layernorm_modulate(fp(s.x), bp(y), D, s.mod(i, 2), bp(xn), LB, D, cfg_.eps, fp(b.norm3_w), fp(b.norm3_b),
                                TokenVec{}, TokenVec{}, st);

    // cross-attention
    linear(bp(xn), b.cq_w, b.cq_s, b.cq_b, bp(qkv), LB, Epilogue::kBias, st);
    rmsnorm_rope(bp(qkv), D, bp(qkv), D, LB, D, fp(b.cnorm_q), cfg_.eps, no_rope, L, st);
    linear(bp(s.ctx), b.ckv_w, b.ckv_s, b.ckv_b, bp(ckv), B * T, Epilogue::kBias, st);
    rmsnorm_rope(bp(ckv), 2 * D, bp(ckv), 2 * D, B * T, D, fp(b.cnorm_k), cfg_.eps, no_rope, T, st);
    attention(cross_p, st);
    linear(bp(attn), b.co_w, b.co_s, b.co_b, bp(y), LB, Epilogue::kBias, st);
    // x += y, then LN * (1 + c_scale) + c_shift for the FFN
    residual_layernorm_modulate(fp(s.x), bp(y), D, TokenVec{}, bp(xn), LB, D, cfg_.eps, nullptr, nullptr, s.mod(i, 3),
                                s.mod(i, 4), st);

    // feed-forward; its residual add fuses the next block's (or the head's) modulated LayerNorm
    linear(bp(xn), b.ffn1_w, b.ffn1_s, b.ffn1_b, bp(hidden), LB, Epilogue::kBiasGelu, st);
    linear(bp(hidden), b.ffn2_w, b.ffn2_s, b.ffn2_b, bp(y), LB, Epilogue::kBias, st);
    release_block(s, i, st);
    const bool last = i + 1 == nl;
    residual_layernorm_modulate(fp(s.x), bp(y), D, s.mod(i, 5), bp(xn), LB, D, cfg_.eps, nullptr, nullptr,
                                last ? s.head(0) : s.mod(i + 1, 0), last ? s.head(1) : s.mod(i + 1, 1), st);
  }
  hidden = Tensor();

  // ---- head: xn = LN(x) * (1 + (head_mod[1] + e)) + (head_mod[0] + e) (fused above) -> Linear ----
  s.head_out = dev_bf16({LB, pout});
  gemm_.linear_bf16(bp(xn), bp(w_.head_w), bp(w_.head_b), bp(s.head_out), LB, pout, D, Epilogue::kBias, st);
}

}  // namespace wan22::cuda
