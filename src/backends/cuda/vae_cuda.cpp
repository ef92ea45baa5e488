// The Wan VAE on the GPU (see vae_cuda.h). The layer structure mirrors models/vae
// (vae_decoder.cpp, vae_encoder.cpp, vae_layers.cpp) one to one; only the data layout
// (channels-last, padded channels) and the fusions differ.
#include "backends/cuda/device_tensor.h"
#include "backends/cuda/vae_cuda.h"

#include <cublas_v2.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/vae_cuda_layers.h"
#include "backends/cuda/vae_cuda_runtime.h"
#include "backends/cuda/vae_kernels.h"
#include "core/log.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "models/vae/vae_keys.h"
#include "models/vae/vae_layers.h"
#include "models/vae/vae_weight_spec.h"

#define WAN22_CUBLAS_CHECK_VAE(expr)                                                         \
  do {                                                                                       \
    cublasStatus_t s_ = (expr);                                                              \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                       \
      throw ::wan22::Error(::wan22::ErrorCode::kInternal,                                    \
                           std::string("cuBLAS error ") + cublasGetStatusName(s_) +          \
                               " in " #expr " at " __FILE__ ":" + std::to_string(__LINE__)); \
    }                                                                                        \
  } while (0)

namespace wan22::cuda {

using models::vae::ResampleMode;
using models::vae::VaeConfig;
using models::vae::VaeVersion;

using namespace vae_net;  // NOLINT: the internal layer and run-time types of this file

// ---------------- the implementation ----------------

struct VaeCuda::Impl {
  VaeConfig cfg;
  VaeCudaOptions opt;
  DType dt = DType::kBF16;
  bool host = false;  // emulate_on_host: every kernel as a CPU loop on host memory
  Conv3dCuda conv;
  cublasHandle_t blas = nullptr;
  bool has_enc = false, has_dec = false;
  DEncoder enc;
  DDecoder dec;
  Tensor mean, inv_std;  // f32 [z] on the device
  size_t weight_bytes = 0;
  std::unique_ptr<BufferPool> pool;  // activations, stages and caches of the running call
  mutable Profiler prof;             // VaeCuda::set_profiling
  std::vector<double> last_profile;  // seconds per Profiler::Kind of the last profiled call
  double attn_flops = 0.0;           // GEMMs of the attention blocks, last call
  double conv_flops = 0.0;           // convolutions, last call
  bool enc_on_host = false, dec_on_host = false;  // weights in pinned host memory (offload)
  void move_part(bool encoder, bool to_host, cudaStream_t stream);

  Impl(const VaeConfig& c, const VaeCudaOptions& o, const io::WeightStore* ws, uint64_t seed,
       cudaStream_t st)
      : cfg(c),
        opt(o),
        dt(o.dtype),
        host(o.emulate_on_host),
        conv(o.emulate_on_host ? ConvImpl::kDirect : o.conv) {
    if (!host) cuda::init();
    if (dt != DType::kBF16 && dt != DType::kF32) {
      throw Error(ErrorCode::kInvalidArgument,
                  std::string("VaeCuda: dtype must be bf16 or f32, got ") + dtype_name(dt));
    }
    if (opt.decode_chunk < 1)
      throw Error(ErrorCode::kInvalidArgument, "VaeCuda: decode_chunk must be >= 1");
    cfg.validate();
    if (ws) models::vae::check_vae_weights(*ws, cfg);
    conv.set_autotune(opt.autotune);
    if (!host) WAN22_CUBLAS_CHECK_VAE(cublasCreate(&blas));
    Network net =
        build_network(ws, seed, cfg, dt, opt.encoder, opt.decoder, opt.subpixel_upsample, host, st);
    enc = std::move(net.enc);
    dec = std::move(net.dec);
    has_enc = net.has_enc;
    has_dec = net.has_dec;
    std::vector<float> inv(cfg.latents_std.size());
    for (size_t i = 0; i < inv.size(); ++i)
      inv[i] = 1.0f / cfg.latents_std[i];  // the reference's scale[1]
    mean = upload_f32(cfg.latents_mean, st);
    inv_std = upload_f32(inv, st);
    weight_bytes = net.bytes;
    pool = std::make_unique<BufferPool>(dev(), opt.reuse_buffers);
  }
  ~Impl() {
    if (blas) cublasDestroy(blas);
  }

  Tensor upload_f32(const std::vector<float>& v, cudaStream_t st) const {
    if (host) return Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
    Tensor d = Tensor::empty({static_cast<int64_t>(v.size())}, DType::kF32, gpu());
    WAN22_CUDA_CHECK(cudaMemcpyAsync(d.raw_data(), v.data(), v.size() * sizeof(float),
                                     cudaMemcpyHostToDevice, st));
    WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
    return d;
  }

  size_t dsize() const { return dtype_size(dt); }
  Device dev() const { return host ? Device::cpu() : gpu(); }
  vae::Exec ex(cudaStream_t st) const { return host ? vae::Exec::on_host() : vae::Exec(st); }
  Tensor buf(const Shape& shape, DType type) const { return pool->get(shape, type); }
  Act alloc(int64_t T, int64_t H, int64_t W, int64_t C) const {
    return Act{buf({T, H, W, C}, dt), T, H, W, C};
  }
  void copy(void* dst, const void* src, size_t bytes, cudaStream_t st) const {
    if (host) {
      std::memcpy(dst, src, bytes);
    } else {
      WAN22_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, st));
    }
    prof.mark(Profiler::kCopy, st);
  }
  void zero(void* dst, size_t bytes, cudaStream_t st) const {
    if (host) {
      std::memset(dst, 0, bytes);
    } else {
      WAN22_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, st));
    }
    prof.mark(Profiler::kCopy, st);
  }
  void run_conv(const ConvGeom& g, const void* x, const void* w, void* y, cudaStream_t st) {
    if (host) {
      conv3d_host(g, dt, x, w, y);
    } else {
      conv.forward(g, dt, x, w, y, st);
    }
    prof.mark(Profiler::kConv, st);
  }
  char* frame_ptr(const Tensor& t, int64_t frame, int64_t H, int64_t W, int64_t C) const {
    return static_cast<char*>(t.raw_data()) + static_cast<size_t>(frame * H * W * C) * dsize();
  }

  // ---- convolutions ----
  Act conv_run(const DConv& c, const void* x, int64_t t, int64_t h, int64_t w, cudaStream_t st) {
    const ConvGeom g = c.geom(t, h, w);
    Act y = alloc(g.out_t(), g.out_h(), g.out_w(), c.cout_p);
    run_conv(g, x, c.w.raw_data(), y.p(), st);
    conv_flops += g.flops();
    return y;
  }

  // The causal conv input: [n_hist cached frames | t new frames]; the caller writes the new frames
  // at frame n_hist. A slot without frames starts from zeros (the reference's zero time padding).
  Tensor stage_begin(Slot& s, int64_t n_hist, int64_t t, int64_t h, int64_t w, int64_t c,
                     cudaStream_t st) {
    if (s.state != Slot::State::kFrames) {
      s.frames = buf({n_hist, h, w, c}, dt);
      zero(s.frames.raw_data(), s.frames.nbytes(), st);
      s.state = Slot::State::kFrames;
    }
    if (s.frames.dim(0) != n_hist || s.frames.dim(1) != h || s.frames.dim(2) != w ||
        s.frames.dim(3) != c) {
      throw Error(ErrorCode::kInternal, "VaeCuda: cache slot holds " + s.frames.str() +
                                            ", the chunk needs [" + std::to_string(n_hist) + ", " +
                                            std::to_string(h) + ", " + std::to_string(w) + ", " +
                                            std::to_string(c) + "]");
    }
    Tensor stage = buf({n_hist + t, h, w, c}, dt);
    copy(stage.raw_data(), s.frames.raw_data(), s.frames.nbytes(), st);
    return stage;
  }
  // The slot keeps the last n_hist frames of the stage (the sliding window of the reference).
  void stage_end(Slot& s, const Tensor& stage, int64_t t, cudaStream_t st) {
    const int64_t h = stage.dim(1), w = stage.dim(2), c = stage.dim(3);
    copy(s.frames.raw_data(), frame_ptr(stage, t, h, w, c), s.frames.nbytes(), st);
  }

  // 3x3x3 causal conv over a staged input; returns the conv output (no bias). fill(dst, hist)
  // writes the T new frames at dst; when hist is not null (T >= 2) it may also write its last 2
  // frames there (the slot's next contents) and return true, which saves the copy afterwards.
  Act causal_conv(const DConv& c, Slot& s, const std::function<bool(void*, void*)>& fill, int64_t T,
                  int64_t H, int64_t W, cudaStream_t st) {
    Tensor stage = stage_begin(s, 2, T, H, W, c.cin_p, st);
    const bool wrote_hist =
        fill(frame_ptr(stage, 2, H, W, c.cin_p), T >= 2 ? s.frames.raw_data() : nullptr);
    Act y = conv_run(c, stage.raw_data(), T + 2, H, W, st);
    if (!wrote_hist) stage_end(s, stage, T, st);
    return y;
  }

  // The usual producer of a conv stage: [bias +] RMS norm + SiLU of x, its last 2 frames also
  // into the cache slot.
  bool norm_into(const Act& x, const float* bias, const DNorm& n, void* dst, void* hist,
                 cudaStream_t st) {
    const int64_t frame_rows = x.H * x.W;
    vae::rms_norm_act(dt, x.p(), bias, n.g(), dst, x.rows(), x.C, n.c, true, hist,
                      hist ? (x.T - 2) * frame_rows : 0, ex(st));
    prof.mark(Profiler::kNorm, st);
    return hist != nullptr;
  }

  // ---- layers ----
  Act res_fwd(const DRes& r, const Act& x, std::vector<Slot>& cache, cudaStream_t st) {
    const int64_t P = x.rows();
    Act y1 = causal_conv(
        r.c1, cache[static_cast<size_t>(r.s1)],
        [&](void* dst, void* hist) { return norm_into(x, nullptr, r.n1, dst, hist, st); }, x.T, x.H,
        x.W, st);
    Act y2 = causal_conv(
        r.c2, cache[static_cast<size_t>(r.s2)],
        [&](void* dst, void* hist) { return norm_into(y1, r.c1.bias(), r.n2, dst, hist, st); }, x.T,
        x.H, x.W, st);
    y1 = Act{};
    if (r.has_sc) {
      Act h = conv_run(r.sc, x.p(), x.T, x.H, x.W, st);
      vae::add_bias_residual(dt, y2.p(), r.c2.bias(), h.p(), r.sc.bias(), P, y2.C, ex(st));
      prof.mark(Profiler::kElementwise, st);
    } else {
      vae::add_bias_residual(dt, y2.p(), r.c2.bias(), x.p(), nullptr, P, y2.C, ex(st));
      prof.mark(Profiler::kElementwise, st);
    }
    return y2;
  }

  void gemm(bool b_trans, int64_t M, int64_t N, int64_t K, float alpha, const void* A,
            cudaDataType at, int64_t lda, const void* B, cudaDataType bt, int64_t ldb, void* C,
            cudaDataType ct, int64_t ldc, cudaStream_t st) {
    // row-major C[M,N] = alpha A[M,K] op(B) as the column-major C^T = op(B)^T A^T
    attn_flops += 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
    if (host) {
      host_gemm(b_trans, M, N, K, alpha, A, at, lda, B, bt, ldb, C, ct, ldc);
      return;
    }
    const float beta = 0.0f;
    WAN22_CUBLAS_CHECK_VAE(cublasSetStream(blas, st));
    WAN22_CUBLAS_CHECK_VAE(
        cublasGemmEx(blas, b_trans ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(N),
                     static_cast<int>(M), static_cast<int>(K), &alpha, B, bt, static_cast<int>(ldb),
                     A, at, static_cast<int>(lda), &beta, C, ct, static_cast<int>(ldc),
                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    prof.mark(Profiler::kAttention, st);
  }

  // The host reference of gemm() (row-major, fp32 accumulation, the same operand conventions).
  static void host_gemm(bool b_trans, int64_t M, int64_t N, int64_t K, float alpha, const void* A,
                        cudaDataType at, int64_t lda, const void* B, cudaDataType bt, int64_t ldb,
                        void* C, cudaDataType ct, int64_t ldc) {
    auto get = [](const void* p, cudaDataType t, int64_t i) {
      return t == CUDA_R_32F ? static_cast<const float*>(p)[i]
                             : __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    };
    parallel_for(0, M, 1, [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m)
        for (int64_t n = 0; n < N; ++n) {
          float acc = 0.0f;
          for (int64_t k = 0; k < K; ++k)
            acc += get(A, at, m * lda + k) * get(B, bt, b_trans ? n * ldb + k : k * ldb + n);
          acc *= alpha;
          if (ct == CUDA_R_32F) {
            static_cast<float*>(C)[m * ldc + n] = acc;
          } else {
            static_cast<__nv_bfloat16*>(C)[m * ldc + n] = __float2bfloat16_rn(acc);
          }
        }
    });
  }

  // Single-head self-attention over the h*w positions of each frame; out = x + proj(attn(norm(x))).
  Act attn_fwd(const DAttn& a, const Act& x, cudaStream_t st) {
    const int64_t P = x.rows(), C = a.c, HW = x.H * x.W;
    const cudaDataType ct = dt == DType::kBF16 ? CUDA_R_16BF : CUDA_R_32F;
    Act xn = alloc(x.T, x.H, x.W, C);
    vae::rms_norm_act(dt, x.p(), nullptr, a.n.g(), xn.p(), P, C, C, false, nullptr, 0, ex(st));
    prof.mark(Profiler::kNorm, st);
    Tensor qkv = buf({P, 3 * C}, dt);
    gemm(true, P, 3 * C, C, 1.0f, xn.p(), ct, C, a.qkv.w.raw_data(), ct, C, qkv.raw_data(), ct,
         3 * C, st);
    vae::add_bias_residual(dt, qkv.raw_data(), a.qkv.bias(), nullptr, nullptr, P, 3 * C, ex(st));
    prof.mark(Profiler::kElementwise, st);
    xn = Act{};
    Tensor s = buf({HW, HW}, DType::kF32);
    Tensor prob = buf({HW, HW}, dt);
    Act o = alloc(x.T, x.H, x.W, C);
    const float scale = 1.0f / std::sqrt(static_cast<float>(C));
    const size_t es = dsize();
    for (int64_t f = 0; f < x.T; ++f) {
      const char* base =
          static_cast<const char*>(qkv.raw_data()) + static_cast<size_t>(f * HW * 3 * C) * es;
      const char* q = base;
      const char* k = base + static_cast<size_t>(C) * es;
      const char* v = base + static_cast<size_t>(2 * C) * es;
      gemm(true, HW, HW, C, scale, q, ct, 3 * C, k, ct, 3 * C, s.raw_data(), CUDA_R_32F, HW, st);
      vae::softmax_rows(dt, static_cast<const float*>(s.raw_data()), prob.raw_data(), HW, HW,
                        ex(st));
      prof.mark(Profiler::kAttention, st);
      gemm(false, HW, C, HW, 1.0f, prob.raw_data(), ct, HW, v, ct, 3 * C,
           static_cast<char*>(o.p()) + static_cast<size_t>(f * HW * C) * es, ct, C, st);
    }
    Act y = alloc(x.T, x.H, x.W, C);
    gemm(true, P, C, C, 1.0f, o.p(), ct, C, a.proj.w.raw_data(), ct, C, y.p(), ct, C, st);
    vae::add_bias_residual(dt, y.p(), a.proj.bias(), x.p(), nullptr, P, C, ex(st));
    prof.mark(Profiler::kElementwise, st);
    return y;
  }

  // Resample up (decoder): [time conv + interleave] then 2x nearest + 3x3 conv (or its sub-pixel
  // form), + bias, + the DupUp3D shortcut when dup.x is set.
  Act upsample_fwd(const DResample& r, const Act& x, std::vector<Slot>& cache,
                   const vae::DupUp& dup, cudaStream_t st) {
    Act cur = x;
    if (r.mode == ResampleMode::kUpsample3d) {
      Slot& s = cache[static_cast<size_t>(r.slot)];
      if (s.state == Slot::State::kEmpty) {
        s.state = Slot::State::kRep;  // first chunk: no temporal upsampling
      } else {
        Act y = causal_conv(
            r.time, s,
            [&](void* dst, void*) {
              copy(dst, x.p(), static_cast<size_t>(x.rows() * x.C) * dsize(), st);
              return false;
            },
            x.T, x.H, x.W, st);
        cur = alloc(2 * x.T, x.H, x.W, r.dim);
        vae::interleave_time(dt, y.p(), r.time.bias(), cur.p(), x.T, x.H * x.W, r.dim, ex(st));
        prof.mark(Profiler::kElementwise, st);
      }
    }
    if (r.subpixel) {
      Act y = conv_run(r.spatial, cur.p(), cur.T, cur.H, cur.W, st);  // [T, H+1, W+1, 4*out]
      Act out = alloc(cur.T, 2 * cur.H, 2 * cur.W, r.out);
      vae::subpixel_shuffle(dt, y.p(), r.spatial.bias(), out.p(), cur.T, cur.H, cur.W, r.out, dup,
                            ex(st));
      prof.mark(Profiler::kElementwise, st);
      return out;
    }
    Act up = alloc(cur.T, 2 * cur.H, 2 * cur.W, cur.C);
    vae::upsample_nearest2x(dt, cur.p(), up.p(), cur.T, cur.H, cur.W, cur.C, ex(st));
    cur = Act{};
    Act out = conv_run(r.spatial, up.p(), up.T, up.H, up.W, st);
    vae::add_bias_dupup(dt, out.p(), r.spatial.bias(), out.T, out.H, out.W, out.C, dup, ex(st));
    prof.mark(Profiler::kElementwise, st);
    return out;
  }

  // Resample down (encoder): zero pad (0,1,0,1), 3x3 stride-2 conv, + bias; downsample3d then runs
  // the stride-2 temporal conv over [the previous chunk's last frame | this chunk] (not on the
  // first chunk, which only fills the cache).
  Act downsample_fwd(const DResample& r, const Act& x, std::vector<Slot>& cache, cudaStream_t st) {
    Act padded = alloc(x.T, x.H + 1, x.W + 1, x.C);
    vae::pad_bottom_right(dt, x.p(), padded.p(), x.T, x.H, x.W, x.C, ex(st));
    prof.mark(Profiler::kElementwise, st);
    Act cur = conv_run(r.spatial, padded.p(), padded.T, padded.H, padded.W, st);
    padded = Act{};
    vae::add_bias_residual(dt, cur.p(), r.spatial.bias(), nullptr, nullptr, cur.rows(), cur.C,
                           ex(st));
    prof.mark(Profiler::kElementwise, st);
    if (r.mode != ResampleMode::kDownsample3d) return cur;
    Slot& s = cache[static_cast<size_t>(r.slot)];
    const size_t fbytes = static_cast<size_t>(cur.H * cur.W * cur.C) * dsize();
    if (s.state == Slot::State::kEmpty) {
      s.frames = buf({1, cur.H, cur.W, cur.C}, dt);
      copy(s.frames.raw_data(), frame_ptr(cur.t, cur.T - 1, cur.H, cur.W, cur.C), fbytes, st);
      s.state = Slot::State::kFrames;
      return cur;
    }
    if (cur.T + 1 < 3) {
      throw Error(ErrorCode::kInvalidArgument,
                  "VaeCuda encode: a chunk of " + std::to_string(cur.T) +
                      " frame(s) is too short for the stride-2 temporal conv (video frame "
                      "counts must be 1 + 4k)");
    }
    Tensor stage = buf({1 + cur.T, cur.H, cur.W, cur.C}, dt);
    copy(stage.raw_data(), s.frames.raw_data(), fbytes, st);
    copy(frame_ptr(stage, 1, cur.H, cur.W, cur.C), cur.p(), fbytes * static_cast<size_t>(cur.T),
         st);
    copy(s.frames.raw_data(), frame_ptr(cur.t, cur.T - 1, cur.H, cur.W, cur.C), fbytes, st);
    Act y = conv_run(r.time, stage.raw_data(), 1 + cur.T, cur.H, cur.W, st);
    vae::add_bias_residual(dt, y.p(), r.time.bias(), nullptr, nullptr, y.rows(), y.C, ex(st));
    prof.mark(Profiler::kElementwise, st);
    return y;
  }

  // ---- decoder ----
  // Decodes latent frames [f0, f0 + nf) of the region (y0, x0, h, w) of `lat` (f32 [z, F, Hl, Wl])
  // and places the output frames at video frame `vf0`. Returns the number of output frames.
  int64_t decode_chunk(const float* lat, int64_t F, int64_t Hl, int64_t Wl, int64_t f0, int64_t nf,
                       int64_t y0, int64_t x0, int64_t h, int64_t w, bool first_chunk,
                       std::vector<Slot>& cache, float* video, int64_t VF, int64_t VH, int64_t VW,
                       int64_t vf0, vae::TileBlend blend, cudaStream_t st) {
    const DDecoder& d = dec;
    const int64_t z = cfg.z_dim, zp = d.post_quant.cin_p;
    Act a = alloc(nf, h, w, zp);
    vae::latent_to_act(dt, lat, z, F, Hl, Wl, f0, nf, y0, x0, h, w,
                       static_cast<const float*>(mean.raw_data()),
                       static_cast<const float*>(inv_std.raw_data()), a.p(), zp, ex(st));
    prof.mark(Profiler::kLayout, st);
    Act x = causal_conv(
        d.conv1, cache[static_cast<size_t>(d.s_conv1)],
        [&](void* dst, void*) {
          run_conv(d.post_quant.geom(nf, h, w), a.p(), d.post_quant.w.raw_data(), dst, st);
          conv_flops += d.post_quant.geom(nf, h, w).flops();
          vae::add_bias_residual(dt, dst, d.post_quant.bias(), nullptr, nullptr, nf * h * w,
                                 d.post_quant.cout_p, ex(st));
          prof.mark(Profiler::kElementwise, st);
          return false;
        },
        nf, h, w, st);
    a = Act{};
    vae::add_bias_residual(dt, x.p(), d.conv1.bias(), nullptr, nullptr, x.rows(), x.C, ex(st));
    prof.mark(Profiler::kElementwise, st);
    x = res_fwd(d.mid0, x, cache, st);
    x = attn_fwd(d.attn, x, st);
    x = res_fwd(d.mid2, x, cache, st);
    if (cfg.version == VaeVersion::kWan22) {
      for (const DBlock& b : d.blocks) {
        Act main = x;
        for (const DRes& r : b.res) main = res_fwd(r, main, cache, st);
        if (b.has_rs) {
          vae::DupUp dup;
          if (b.shortcut) {
            dup.x = x.p();
            dup.t = x.T, dup.h = x.H, dup.w = x.W, dup.cin = x.C;
            dup.ft = b.ft, dup.fs = b.fs;
            dup.first_chunk = first_chunk;
          }
          main = upsample_fwd(b.rs, main, cache, dup, st);
        }
        x = main;
      }
    } else {
      for (const DLayer& l : d.flat)
        x = l.is_res ? res_fwd(l.res, x, cache, st) : upsample_fwd(l.rs, x, cache, {}, st);
    }
    const int64_t T = x.T, H = x.H, W = x.W;
    Act y = causal_conv(
        d.head, cache[static_cast<size_t>(d.s_head)],
        [&](void* dst, void* hist) { return norm_into(x, nullptr, d.head_norm, dst, hist, st); }, T,
        H, W, st);
    x = Act{};
    vae::head_to_video(dt, y.p(), d.head.bias(), T, H, W, y.C, cfg.patch(), video, cfg.in_channels,
                       VF, VH, VW, vf0, blend, ex(st));
    prof.mark(Profiler::kLayout, st);
    return T;
  }

  // Decodes the region of the latent through every chunk into the video.
  void decode_region(const float* lat, int64_t F, int64_t Hl, int64_t Wl, int64_t y0, int64_t x0,
                     int64_t h, int64_t w, float* video, int64_t VF, int64_t VH, int64_t VW,
                     const vae::TileBlend& blend, cudaStream_t st) {
    std::vector<Slot> cache(static_cast<size_t>(dec.slots));
    int64_t vf = 0;
    int64_t f = 0;
    while (f < F) {
      pool->next_chunk();
      const int64_t nf = f == 0 ? 1 : std::min<int64_t>(opt.decode_chunk, F - f);
      vf += decode_chunk(lat, F, Hl, Wl, f, nf, y0, x0, h, w, f == 0, cache, video, VF, VH, VW, vf,
                         blend, st);
      f += nf;
    }
    if (vf != VF) {
      throw Error(ErrorCode::kInternal, "VaeCuda decode: produced " + std::to_string(vf) +
                                            " frames, expected " + std::to_string(VF));
    }
  }

  // ---- encoder ----
  // Encodes video frames [f0, f0 + nf) of the pixel region (y0, x0, rh, rw) into latent frames
  // from lf0 on, placed by `blend` (latent pixels). Returns the number of latent frames.
  int64_t encode_chunk(const float* video, int64_t VF, int64_t VH, int64_t VW, int64_t f0,
                       int64_t nf, int64_t y0, int64_t x0, int64_t rh, int64_t rw,
                       std::vector<Slot>& cache, float* lat, int64_t LF, int64_t LH, int64_t LW,
                       int64_t lf0, const vae::TileBlend& blend, cudaStream_t st) {
    const DEncoder& e = enc;
    const int p = cfg.patch();
    const int64_t h = rh / p, w = rw / p;
    Act x = causal_conv(
        e.conv1, cache[static_cast<size_t>(e.s_conv1)],
        [&](void* dst, void*) {
          vae::video_to_act(dt, video, cfg.in_channels, VF, VH, VW, f0, nf, y0, x0, rh, rw, p, dst,
                            e.conv1.cin_p, ex(st));
          prof.mark(Profiler::kLayout, st);
          return false;
        },
        nf, h, w, st);
    vae::add_bias_residual(dt, x.p(), e.conv1.bias(), nullptr, nullptr, x.rows(), x.C, ex(st));
    prof.mark(Profiler::kElementwise, st);
    if (cfg.version == VaeVersion::kWan22) {
      for (const DBlock& b : e.blocks) {
        const Act in = x;
        for (const DRes& r : b.res) x = res_fwd(r, x, cache, st);
        if (b.has_rs) x = downsample_fwd(b.rs, x, cache, st);
        vae::add_avgdown(dt, x.p(), x.T, x.H, x.W, x.C, in.p(), in.T, in.H, in.W, in.C, b.ft, b.fs,
                         ex(st));
        prof.mark(Profiler::kElementwise, st);
      }
    } else {
      for (const DLayer& l : e.flat)
        x = l.is_res ? res_fwd(l.res, x, cache, st) : downsample_fwd(l.rs, x, cache, st);
    }
    x = res_fwd(e.mid0, x, cache, st);
    x = attn_fwd(e.attn, x, st);
    x = res_fwd(e.mid2, x, cache, st);
    const int64_t T = x.T, H = x.H, W = x.W;
    Act m = causal_conv(
        e.head, cache[static_cast<size_t>(e.s_head)],
        [&](void* dst, void* hist) { return norm_into(x, nullptr, e.head_norm, dst, hist, st); }, T,
        H, W, st);
    x = Act{};
    vae::add_bias_residual(dt, m.p(), e.head.bias(), nullptr, nullptr, m.rows(), m.C, ex(st));
    prof.mark(Profiler::kElementwise, st);
    Act mu = conv_run(e.quant_mu, m.p(), T, H, W, st);
    vae::act_to_latent(dt, mu.p(), e.quant_mu.bias(), T, H, W, mu.C, cfg.z_dim,
                       static_cast<const float*>(mean.raw_data()),
                       static_cast<const float*>(inv_std.raw_data()), lat, LF, LH, LW, lf0, blend,
                       ex(st));
    prof.mark(Profiler::kLayout, st);
    return T;
  }

  // Encodes the pixel region through every chunk into the latent.
  void encode_region(const float* video, int64_t VF, int64_t VH, int64_t VW, int64_t y0, int64_t x0,
                     int64_t rh, int64_t rw, float* lat, int64_t LF, int64_t LH, int64_t LW,
                     const vae::TileBlend& blend, cudaStream_t st) {
    constexpr int64_t kChunk = 4;  // frames per encoder chunk after the first
    std::vector<Slot> cache(static_cast<size_t>(enc.slots));
    int64_t lf = 0;
    const int64_t chunks = 1 + (VF - 1 + kChunk - 1) / kChunk;
    for (int64_t i = 0; i < chunks; ++i) {
      pool->next_chunk();
      const int64_t start = i == 0 ? 0 : 1 + kChunk * (i - 1);
      const int64_t end = i == 0 ? 1 : std::min(VF, 1 + kChunk * i);
      lf += encode_chunk(video, VF, VH, VW, start, end - start, y0, x0, rh, rw, cache, lat, LF, LH,
                         LW, lf, blend, st);
    }
    if (lf != LF) {
      throw Error(ErrorCode::kInternal, "VaeCuda encode: produced " + std::to_string(lf) +
                                            " latent frames, expected " + std::to_string(LF));
    }
  }
};

// ---------------- public API ----------------

VaeCuda::VaeCuda(const io::WeightStore& ws, const VaeConfig& cfg, const VaeCudaOptions& opt,
                 cudaStream_t stream)
    : impl_(std::make_unique<Impl>(cfg, opt, &ws, 0, stream)) {}

VaeCuda::VaeCuda(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

VaeCuda::~VaeCuda() = default;

std::unique_ptr<VaeCuda> VaeCuda::random(const VaeConfig& cfg, uint64_t seed,
                                         const VaeCudaOptions& opt, cudaStream_t stream) {
  return std::unique_ptr<VaeCuda>(
      new VaeCuda(std::make_unique<Impl>(cfg, opt, nullptr, seed * 7919 + 17, stream)));
}

std::unique_ptr<VaeCuda> VaeCuda::open(const std::string& weights_path,
                                       const std::string& config_path, const VaeCudaOptions& opt,
                                       cudaStream_t stream) {
  io::WeightStore ws = io::WeightStore::open(weights_path);
  std::optional<VaeConfig> cfg;
  if (!config_path.empty()) cfg = models::vae::vae_config_from_file(config_path);
  models::vae::install_vae_key_map(ws, cfg ? &*cfg : nullptr);
  const VaeConfig full =
      cfg ? models::vae::complete_vae_config(*cfg, ws) : models::vae::vae_config_from_weights(ws);
  return std::make_unique<VaeCuda>(ws, full, opt, stream);
}

const VaeConfig& VaeCuda::config() const { return impl_->cfg; }
const VaeCudaOptions& VaeCuda::options() const { return impl_->opt; }
Conv3dCuda& VaeCuda::conv() { return impl_->conv; }
size_t VaeCuda::weight_bytes() const { return impl_->weight_bytes; }
void VaeCuda::set_profiling(bool on) { impl_->prof.on = on && !impl_->host; }

std::vector<std::pair<std::string, double>> VaeCuda::last_profile() const {
  static const char* names[] = {"start", "conv",      "norm",  "elementwise",
                                "copy",  "attention", "layout"};
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 1; i < impl_->last_profile.size(); ++i)
    out.emplace_back(names[i], impl_->last_profile[i]);
  return out;
}

double VaeCuda::last_flops() const { return impl_->conv_flops + impl_->attn_flops; }

namespace {

// Every weight tensor of the network (and the latent statistics), for offload/restore.
template <class F>
void each_conv(DConv& c, F& f) {
  f(c.w);
  f(c.b);
}
template <class F>
void each_res(DRes& r, F& f) {
  f(r.n1.gamma);
  f(r.n2.gamma);
  each_conv(r.c1, f);
  each_conv(r.c2, f);
  each_conv(r.sc, f);
}
template <class F>
void each_resample(DResample& r, F& f) {
  each_conv(r.spatial, f);
  each_conv(r.time, f);
}
template <class F>
void each_attn(DAttn& a, F& f) {
  f(a.n.gamma);
  each_conv(a.qkv, f);
  each_conv(a.proj, f);
}
template <class F>
void each_blocks(std::vector<DBlock>& blocks, std::vector<DLayer>& flat, F& f) {
  for (DBlock& b : blocks) {
    for (DRes& r : b.res) each_res(r, f);
    each_resample(b.rs, f);
  }
  for (DLayer& l : flat) {
    each_res(l.res, f);
    each_resample(l.rs, f);
  }
}

Tensor pinned_copy(const Tensor& t) {
  Tensor h = pinned_empty(t.shape(), t.dtype());
  WAN22_CUDA_CHECK(cudaMemcpy(h.raw_data(), t.raw_data(), t.nbytes(), cudaMemcpyDeviceToHost));
  return h;
}

}  // namespace

void VaeCuda::Impl::move_part(bool encoder, bool to_host, cudaStream_t stream) {
  if (host || (encoder ? !has_enc : !has_dec)) return;
  bool& on_host = encoder ? enc_on_host : dec_on_host;
  if (on_host == to_host) return;
  WAN22_CUDA_CHECK(cudaStreamSynchronize(stream));
  auto move = [&](Tensor& t) {
    if (!t.defined() || t.numel() == 0) return;
    if (to_host == !t.device().is_cuda()) return;
    if (to_host) {
      t = pinned_copy(t);
    } else {
      Tensor d = Tensor::empty(t.shape(), t.dtype(), gpu());
      WAN22_CUDA_CHECK(cudaMemcpy(d.raw_data(), t.raw_data(), t.nbytes(), cudaMemcpyHostToDevice));
      t = d;
    }
  };
  if (encoder) {
    each_conv(enc.conv1, move);
    each_blocks(enc.blocks, enc.flat, move);
    each_res(enc.mid0, move);
    each_res(enc.mid2, move);
    each_attn(enc.attn, move);
    move(enc.head_norm.gamma);
    each_conv(enc.head, move);
    each_conv(enc.quant_mu, move);
  } else {
    each_conv(dec.post_quant, move);
    each_conv(dec.conv1, move);
    each_res(dec.mid0, move);
    each_res(dec.mid2, move);
    each_attn(dec.attn, move);
    each_blocks(dec.blocks, dec.flat, move);
    move(dec.head_norm.gamma);
    each_conv(dec.head, move);
  }
  on_host = to_host;  // the latent statistics (z floats) always stay on the device
}

void VaeCuda::offload(cudaStream_t stream) {
  impl_->move_part(true, true, stream);
  impl_->move_part(false, true, stream);
}
void VaeCuda::restore(cudaStream_t stream) {
  impl_->move_part(true, false, stream);
  impl_->move_part(false, false, stream);
}
void VaeCuda::offload_encoder(cudaStream_t stream) { impl_->move_part(true, true, stream); }
bool VaeCuda::offloaded() const {
  return (impl_->dec_on_host || !impl_->has_dec) && (impl_->enc_on_host || !impl_->has_enc) &&
         (impl_->has_enc || impl_->has_dec);
}
void VaeCuda::set_reuse_buffers(bool on) {
  impl_->opt.reuse_buffers = on;
  impl_->pool = std::make_unique<BufferPool>(impl_->dev(), on);
}

namespace {

// A contiguous f32 device copy of `t` with the leading batch dim of 1 removed (or t itself when it
// already is one); on the host when emulating.
Tensor device_f32(const Tensor& t, int unbatched_ndim, const char* what, cudaStream_t st,
                  bool host) {
  Tensor x = t;
  if (x.ndim() == unbatched_ndim + 1) {
    if (x.dim(0) != 1) {
      throw Error(ErrorCode::kInvalidArgument,
                  std::string("VaeCuda ") + what + ": batch size must be 1, got " + t.str());
    }
    x = x.squeeze(0);
  }
  if (x.ndim() != unbatched_ndim) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string("VaeCuda ") + what + ": unexpected shape " + t.str());
  }
  if (host) {
    if (!x.device().is_cpu()) {
      throw Error(ErrorCode::kInvalidArgument,
                  std::string("VaeCuda ") + what + ": host emulation takes host tensors");
    }
    return x.to(DType::kF32).contiguous();
  }
  if (x.device().is_cpu()) {
    Tensor h = x.to(DType::kF32).contiguous();
    Tensor d = Tensor::empty(h.shape(), DType::kF32, gpu());
    WAN22_CUDA_CHECK(
        cudaMemcpyAsync(d.raw_data(), h.raw_data(), h.nbytes(), cudaMemcpyHostToDevice, st));
    WAN22_CUDA_CHECK(cudaStreamSynchronize(st));  // h dies here
    return d;
  }
  if (x.dtype() != DType::kF32 || !x.is_contiguous()) {
    throw Error(
        ErrorCode::kInvalidArgument,
        std::string("VaeCuda ") + what + ": a device input must be contiguous f32, got " + t.str());
  }
  return x;
}

}  // namespace

// Tile starts along one axis of `len` (latent px): stride tile - overlap, the last tile flush
// with the end; one tile covering everything when tile >= len.
static std::vector<int64_t> tile_starts(int64_t len, const TileOptions& t) {
  std::vector<int64_t> v;
  const int64_t size = std::min(t.tile, len), stride = std::max<int64_t>(1, t.tile - t.overlap);
  for (int64_t p = 0;; p += stride) {
    if (p + size >= len) {
      v.push_back(len - size);
      break;
    }
    v.push_back(p);
  }
  return v;
}

// The overlap a tiled call accepts: [0, tile).
static void check_overlap(const TileOptions& t, const char* call) {
  if (t.overlap < 0 || t.overlap >= t.tile) {
    throw Error(ErrorCode::kInvalidArgument, std::string("VaeCuda ") + call + ": overlap " +
                                                 std::to_string(t.overlap) + " must be in [0, tile " +
                                                 std::to_string(t.tile) + ")");
  }
}

// Tile (iy, ix) of an ny x nx grid at origin (y0, x0), accumulating: a linear ramp of `ramp`
// pixels on every side that has a neighbour.
static vae::TileBlend tile_blend(size_t iy, size_t ix, size_t ny, size_t nx, int64_t y0, int64_t x0,
                                 int64_t ramp) {
  vae::TileBlend b;
  b.y0 = y0, b.x0 = x0;
  b.ramp_top = iy > 0 ? ramp : 0;
  b.ramp_bottom = iy + 1 < ny ? ramp : 0;
  b.ramp_left = ix > 0 ? ramp : 0;
  b.ramp_right = ix + 1 < nx ? ramp : 0;
  b.accumulate = true;
  return b;
}

// A decoder input: f32 [z, F, h, w] with the VAE's z.
static void check_decode_latent(const Tensor& lat, const Tensor& given, int64_t z_dim) {
  if (lat.dim(0) != z_dim || lat.dim(1) < 1 || lat.dim(2) < 1 || lat.dim(3) < 1) {
    throw Error(ErrorCode::kInvalidArgument, "VaeCuda decode: expected a latent [" + std::to_string(z_dim) +
                                                 ", F, h, w], got " + given.str());
  }
}

Tensor VaeCuda::decode(const Tensor& latent, cudaStream_t stream) {
  return decode_tiled(latent, TileOptions{}, stream);
}

Tensor VaeCuda::decode_tiled(const Tensor& latent, const TileOptions& tiles, cudaStream_t stream) {
  Impl& m = *impl_;
  m.move_part(/*encoder=*/false, /*to_host=*/false, stream);  // the encoder may stay offloaded
  const PoolReset pool_reset{m.pool.get()};  // the pool's blocks back to the allocator at the end
  if (m.prof.on) m.prof.mark(Profiler::kStart, stream);
  Tensor result = [&]() -> Tensor {
    if (!m.has_dec) throw Error(ErrorCode::kInvalidArgument, "VaeCuda: the decoder was not loaded");
    const Tensor lat = device_f32(latent, 4, "decode", stream, m.host);
    check_decode_latent(lat, latent, m.cfg.z_dim);
    const int64_t F = lat.dim(1), Hl = lat.dim(2), Wl = lat.dim(3);
    const int64_t ts = m.cfg.temporal_stride(), s = m.cfg.spatial_stride();
    const int64_t VF = 1 + ts * (F - 1), VH = Hl * s, VW = Wl * s, C = m.cfg.in_channels;
    Tensor video = Tensor::empty({C, VF, VH, VW}, DType::kF32, m.dev());
    m.conv.reset_counters();
    m.attn_flops = m.conv_flops = 0.0;
    const float* lp = static_cast<const float*>(lat.raw_data());
    float* vp = static_cast<float*>(video.raw_data());
    const bool tiled = tiles.tile > 0 && (tiles.tile < Hl || tiles.tile < Wl);
    if (!tiled) {
      m.decode_region(lp, F, Hl, Wl, 0, 0, Hl, Wl, vp, VF, VH, VW, vae::TileBlend{}, stream);
      return video;
    }
    check_overlap(tiles, "decode_tiled");
    const std::vector<int64_t> ys = tile_starts(Hl, tiles), xs = tile_starts(Wl, tiles);
    const int64_t th = std::min(tiles.tile, Hl), tw = std::min(tiles.tile, Wl);
    m.zero(vp, video.nbytes(), stream);
    Tensor wsum = Tensor::empty({VH, VW}, DType::kF32, m.dev());
    m.zero(wsum.raw_data(), wsum.nbytes(), stream);
    const int64_t ramp = tiles.overlap * s;
    for (size_t iy = 0; iy < ys.size(); ++iy) {
      for (size_t ix = 0; ix < xs.size(); ++ix) {
        const vae::TileBlend b = tile_blend(iy, ix, ys.size(), xs.size(), ys[iy] * s, xs[ix] * s, ramp);
        m.decode_region(lp, F, Hl, Wl, ys[iy], xs[ix], th, tw, vp, VF, VH, VW, b, stream);
        vae::add_tile_weight(static_cast<float*>(wsum.raw_data()), VH, VW, th * s, tw * s, b,
                             m.ex(stream));
      }
    }
    vae::divide_by_weight(vp, static_cast<const float*>(wsum.raw_data()), C, VF, VH, VW,
                          m.ex(stream));
    return video;
  }();
  if (m.prof.on) m.last_profile = m.prof.collect();
  return result;
}

Tensor VaeCuda::decode_tiled_to_host(const Tensor& latent, const TileOptions& tiles, cudaStream_t stream,
                                     bool clamp) {
  Impl& m = *impl_;
  const bool tiled_input = [&] {
    if (m.host) return false;
    if (latent.ndim() < 4) return false;
    const int64_t Hl = latent.dim(latent.ndim() - 2), Wl = latent.dim(latent.ndim() - 1);
    return tiles.tile > 0 && (tiles.tile < Hl || tiles.tile < Wl);
  }();
  if (!tiled_input) {
    Tensor v = decode_tiled(latent, tiles, stream);
    Tensor h = Tensor::empty(v.shape(), DType::kF32, Device::cpu());
    WAN22_CUDA_CHECK(cudaMemcpyAsync(h.raw_data(), v.raw_data(), v.nbytes(), cudaMemcpyDefault, stream));
    WAN22_CUDA_CHECK(cudaStreamSynchronize(stream));
    if (clamp) {
      float* p = h.data<float>();
      default_pool().parallel_for(h.numel(), 1 << 16, [&](int64_t a, int64_t b) {
        for (int64_t i = a; i < b; ++i) p[i] = std::min(1.0f, std::max(-1.0f, p[i]));
      });
    }
    return h;
  }
  m.move_part(/*encoder=*/false, /*to_host=*/false, stream);
  const PoolReset pool_reset{m.pool.get()};
  check_overlap(tiles, "decode_tiled_to_host");
  const Tensor lat = device_f32(latent, 4, "decode", stream, false);
  check_decode_latent(lat, latent, m.cfg.z_dim);
  const int64_t F = lat.dim(1), Hl = lat.dim(2), Wl = lat.dim(3);
  const int64_t ts = m.cfg.temporal_stride(), s = m.cfg.spatial_stride();
  const int64_t VF = 1 + ts * (F - 1), VH = Hl * s, VW = Wl * s, C = m.cfg.in_channels;
  m.conv.reset_counters();
  m.attn_flops = m.conv_flops = 0.0;
  const float* lp = static_cast<const float*>(lat.raw_data());
  const std::vector<int64_t> ys = tile_starts(Hl, tiles), xs = tile_starts(Wl, tiles);
  const int64_t th = std::min(tiles.tile, Hl), tw = std::min(tiles.tile, Wl);
  const int64_t TH = th * s, TW = tw * s;
  // The blend weights on the device (the same kernel as decode_tiled), the video on the host.
  Tensor wsum = Tensor::empty({VH, VW}, DType::kF32, m.dev());
  m.zero(wsum.raw_data(), wsum.nbytes(), stream);
  Tensor tile = Tensor::empty({C, VF, TH, TW}, DType::kF32, m.dev());
  Tensor staging = Tensor::empty({C, VF, TH, TW}, DType::kF32, Device::cpu());
  Tensor video = Tensor::zeros({C, VF, VH, VW}, DType::kF32, Device::cpu());
  float* vp = video.data<float>();
  const float* sp = staging.data<float>();
  const int64_t ramp = tiles.overlap * s;
  for (size_t iy = 0; iy < ys.size(); ++iy) {
    for (size_t ix = 0; ix < xs.size(); ++ix) {
      const int64_t y0 = ys[iy] * s, x0 = xs[ix] * s;
      // decoded in the tile's own frame (origin 0); its weights go into wsum at its place
      const vae::TileBlend b = tile_blend(iy, ix, ys.size(), xs.size(), 0, 0, ramp);
      m.zero(tile.raw_data(), tile.nbytes(), stream);
      m.decode_region(lp, F, Hl, Wl, ys[iy], xs[ix], th, tw, static_cast<float*>(tile.raw_data()), VF, TH, TW, b,
                      stream);
      vae::add_tile_weight(static_cast<float*>(wsum.raw_data()), VH, VW, TH, TW,
                           tile_blend(iy, ix, ys.size(), xs.size(), y0, x0, ramp), m.ex(stream));
      WAN22_CUDA_CHECK(cudaMemcpyAsync(staging.raw_data(), tile.raw_data(), tile.nbytes(), cudaMemcpyDeviceToHost,
                                       stream));
      WAN22_CUDA_CHECK(cudaStreamSynchronize(stream));
      default_pool().parallel_for(C * VF * TH, 64, [&](int64_t a, int64_t e) {
        for (int64_t r = a; r < e; ++r) {
          const int64_t cf = r / TH, y = r % TH;
          const float* src = sp + r * TW;
          float* dst = vp + (cf * VH + y0 + y) * VW + x0;
          for (int64_t x = 0; x < TW; ++x) dst[x] += src[x];
        }
      });
    }
  }
  Tensor wh = Tensor::empty({VH, VW}, DType::kF32, Device::cpu());
  WAN22_CUDA_CHECK(cudaMemcpyAsync(wh.raw_data(), wsum.raw_data(), wsum.nbytes(), cudaMemcpyDeviceToHost, stream));
  WAN22_CUDA_CHECK(cudaStreamSynchronize(stream));
  const float* wp = wh.data<float>();
  default_pool().parallel_for(C * VF * VH, 64, [&](int64_t a, int64_t e) {
    for (int64_t r = a; r < e; ++r) {
      float* row = vp + r * VW;
      const float* wr = wp + (r % VH) * VW;
      for (int64_t x = 0; x < VW; ++x) {
        float v = row[x] / wr[x];
        if (clamp) v = std::min(1.0f, std::max(-1.0f, v));
        row[x] = v;
      }
    }
  });
  return video;
}

Tensor VaeCuda::encode(const Tensor& video, cudaStream_t stream) {
  return encode_tiled(video, TileOptions{}, stream);
}

Tensor VaeCuda::encode_tiled(const Tensor& video_in, const TileOptions& tiles,
                             cudaStream_t stream) {
  Impl& m = *impl_;
  m.move_part(/*encoder=*/true, /*to_host=*/false, stream);  // the decoder may stay offloaded
  const PoolReset pool_reset{m.pool.get()};  // the pool's blocks back to the allocator at the end
  if (m.prof.on) m.prof.mark(Profiler::kStart, stream);
  Tensor result = [&]() -> Tensor {
    if (!m.has_enc) throw Error(ErrorCode::kInvalidArgument, "VaeCuda: the encoder was not loaded");
    const Tensor video = device_f32(video_in, 4, "encode", stream, m.host);
    const int64_t C = video.dim(0), VF = video.dim(1), VH = video.dim(2), VW = video.dim(3);
    const int64_t s = m.cfg.spatial_stride(), ts = m.cfg.temporal_stride();
    if (C != m.cfg.in_channels) {
      throw Error(ErrorCode::kInvalidArgument, "VaeCuda encode: the video has " +
                                                   std::to_string(C) + " channels, the VAE takes " +
                                                   std::to_string(m.cfg.in_channels));
    }
    if (VF < 1 || (ts != 1 && (VF - 1) % 4 != 0)) {
      throw Error(ErrorCode::kInvalidArgument, "VaeCuda encode: " + std::to_string(VF) +
                                                   " frames; the frame count must be 1 + 4k");
    }
    if (VH % s != 0 || VW % s != 0) {
      throw Error(ErrorCode::kInvalidArgument, "VaeCuda encode: frame size " + std::to_string(VH) +
                                                   "x" + std::to_string(VW) +
                                                   " must be a multiple of " + std::to_string(s));
    }
    const int64_t LF = 1 + (VF - 1) / ts, LH = VH / s, LW = VW / s, z = m.cfg.z_dim;
    Tensor lat = Tensor::empty({z, LF, LH, LW}, DType::kF32, m.dev());
    m.conv.reset_counters();
    m.attn_flops = m.conv_flops = 0.0;
    const float* vp = static_cast<const float*>(video.raw_data());
    float* lp = static_cast<float*>(lat.raw_data());
    const bool tiled = tiles.tile > 0 && (tiles.tile < LH || tiles.tile < LW);
    if (!tiled) {
      m.encode_region(vp, VF, VH, VW, 0, 0, VH, VW, lp, LF, LH, LW, vae::TileBlend{}, stream);
      return lat;
    }
    check_overlap(tiles, "encode_tiled");
    const std::vector<int64_t> ys = tile_starts(LH, tiles), xs = tile_starts(LW, tiles);
    const int64_t th = std::min(tiles.tile, LH), tw = std::min(tiles.tile, LW);
    m.zero(lp, lat.nbytes(), stream);
    Tensor wsum = Tensor::empty({LH, LW}, DType::kF32, m.dev());
    m.zero(wsum.raw_data(), wsum.nbytes(), stream);
    for (size_t iy = 0; iy < ys.size(); ++iy) {
      for (size_t ix = 0; ix < xs.size(); ++ix) {
        const vae::TileBlend b = tile_blend(iy, ix, ys.size(), xs.size(), ys[iy], xs[ix], tiles.overlap);
        m.encode_region(vp, VF, VH, VW, ys[iy] * s, xs[ix] * s, th * s, tw * s, lp, LF, LH, LW, b,
                        stream);
        vae::add_tile_weight(static_cast<float*>(wsum.raw_data()), LH, LW, th, tw, b, m.ex(stream));
      }
    }
    vae::divide_by_weight(lp, static_cast<const float*>(wsum.raw_data()), z, LF, LH, LW,
                          m.ex(stream));
    return lat;
  }();
  if (m.prof.on) m.last_profile = m.prof.collect();
  return result;
}

}  // namespace wan22::cuda
