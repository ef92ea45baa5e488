// Device kernels of the VAE (see vae_kernels.h). Each elementwise/layout operation is a functor
// with a __host__ __device__ call operator over one element (or one group of 8 channels); the same
// functor runs in a grid-stride kernel on a stream or in a CPU loop (Exec::on_host()), so the host
// tests exercise the index code the GPU runs. Rows of C channels (C % 8 == 0) are handled as groups
// of 8 values (16-byte bf16 / 2 x 16-byte f32 accesses on the device); math in fp32.
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "backends/cuda/kernel_util.cuh"
#include "backends/cuda/vae_kernels.h"
#include "core/status.h"
#include "core/thread_pool.h"

namespace wan22::cuda::vae {

namespace {

using bf16_t = __nv_bfloat16;
using detail::grid_for;
using detail::require;

#define HD __host__ __device__

// ---------------- scalar and 8-value access ----------------

HD inline float ld(const float* p) { return *p; }
HD inline float ld(const bf16_t* p) { return __bfloat162float(*p); }
HD inline void st(float* p, float v) { *p = v; }
HD inline void st(bf16_t* p, float v) { *p = __float2bfloat16_rn(v); }

HD inline void load8(const float* p, float* f) {
#ifdef __CUDA_ARCH__
  const float4 a = reinterpret_cast<const float4*>(p)[0];
  const float4 b = reinterpret_cast<const float4*>(p)[1];
  f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w, f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
#else
  for (int i = 0; i < 8; ++i) f[i] = p[i];
#endif
}
HD inline void load8(const bf16_t* p, float* f) {
#ifdef __CUDA_ARCH__
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const bf16_t* h = reinterpret_cast<const bf16_t*>(&u);
  for (int i = 0; i < 8; ++i) f[i] = __bfloat162float(h[i]);
#else
  for (int i = 0; i < 8; ++i) f[i] = __bfloat162float(p[i]);
#endif
}
HD inline void store8(float* p, const float* f) {
#ifdef __CUDA_ARCH__
  reinterpret_cast<float4*>(p)[0] = make_float4(f[0], f[1], f[2], f[3]);
  reinterpret_cast<float4*>(p)[1] = make_float4(f[4], f[5], f[6], f[7]);
#else
  for (int i = 0; i < 8; ++i) p[i] = f[i];
#endif
}
HD inline void store8(bf16_t* p, const float* f) {
#ifdef __CUDA_ARCH__
  uint4 u;
  bf16_t* h = reinterpret_cast<bf16_t*>(&u);
  for (int i = 0; i < 8; ++i) h[i] = __float2bfloat16_rn(f[i]);
  *reinterpret_cast<uint4*>(p) = u;
#else
  for (int i = 0; i < 8; ++i) p[i] = __float2bfloat16_rn(f[i]);
#endif
}
HD inline void add8(float* v, const float* b) {
  for (int i = 0; i < 8; ++i) v[i] += b[i];
}
HD inline float silu_f(float v) { return v / (1.0f + expf(-v)); }

// ---------------- executors ----------------

template <class F>
__global__ void each_kernel(F f, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    f(i);
  }
}

constexpr int kThreads = 256;

// ---------------- row operations (warp / block per row on the device) ----------------

// RMS_norm of one row on the host: the reference order of operations.
template <class T>
void rms_norm_row_host(const T* x, const float* bias, const float* gamma, T* y, T* y_copy,
                       int64_t c, float sqrt_c, bool silu) {
  double ss = 0.0;
  for (int64_t i = 0; i < c; ++i) {
    const float v = ld(x + i) + (bias ? bias[i] : 0.0f);
    ss += static_cast<double>(v) * v;
  }
  const float inv = static_cast<float>(1.0 / std::max(std::sqrt(ss), 1e-12));
  for (int64_t i = 0; i < c; ++i) {
    const float v = ld(x + i) + (bias ? bias[i] : 0.0f);
    const float o = v * inv * sqrt_c * gamma[i];
    st(y + i, silu ? silu_f(o) : o);
    if (y_copy) st(y_copy + i, silu ? silu_f(o) : o);
  }
}

template <class T>
__global__ void rms_norm_act_kernel(const T* __restrict__ x, const float* __restrict__ bias,
                                    const float* __restrict__ gamma, T* __restrict__ y,
                                    int64_t rows, int64_t c, float sqrt_c, bool silu, T* y2,
                                    int64_t y2_from) {
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_block = blockDim.x >> 5;
  const int64_t groups = c >> 3;
  for (int64_t row = blockIdx.x * warps_per_block + (threadIdx.x >> 5); row < rows;
       row += static_cast<int64_t>(gridDim.x) * warps_per_block) {
    const T* xr = x + row * c;
    float ss = 0.0f;
    for (int64_t g = lane; g < groups; g += 32) {
      float v[8];
      load8(xr + g * 8, v);
      if (bias) {
        float b[8];
        load8(bias + g * 8, b);
        add8(v, b);
      }
#pragma unroll
      for (int i = 0; i < 8; ++i) ss += v[i] * v[i];
    }
    ss = detail::warp_sum(ss);
    const float inv = 1.0f / fmaxf(sqrtf(ss), 1e-12f);
    T* yr = y + row * c;
    for (int64_t g = lane; g < groups; g += 32) {
      float v[8], gm[8];
      load8(xr + g * 8, v);
      load8(gamma + g * 8, gm);
      if (bias) {
        float b[8];
        load8(bias + g * 8, b);
        add8(v, b);
      }
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float o = v[i] * inv * sqrt_c * gm[i];
        v[i] = silu ? silu_f(o) : o;
      }
      store8(yr + g * 8, v);
      if (y2 && row >= y2_from) store8(y2 + (row - y2_from) * c + g * 8, v);
    }
  }
}

template <class T>
__global__ void softmax_rows_kernel(const float* __restrict__ s, T* __restrict__ p, int64_t rows,
                                    int64_t cols) {
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* sr = s + row * cols;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, sr[j]);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    __syncthreads();  // scratch may still be read from the previous row
    if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = m;
    __syncthreads();
    m = (threadIdx.x & 31) < (blockDim.x >> 5) ? scratch[threadIdx.x & 31] : -INFINITY;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += __expf(sr[j] - m);
    sum = detail::block_sum(sum, scratch);
    const float inv = 1.0f / sum;
    T* pr = p + row * cols;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) st(pr + j, __expf(sr[j] - m) * inv);
  }
}

template <class T>
void softmax_row_host(const float* s, T* p, int64_t cols) {
  float m = -INFINITY;
  for (int64_t j = 0; j < cols; ++j) m = std::max(m, s[j]);
  double sum = 0.0;
  for (int64_t j = 0; j < cols; ++j) sum += std::exp(static_cast<double>(s[j] - m));
  const double inv = 1.0 / sum;
  for (int64_t j = 0; j < cols; ++j)
    st(p + j, static_cast<float>(std::exp(static_cast<double>(s[j] - m)) * inv));
}

struct DeviceExec {
  cudaStream_t stream;
  template <class F>
  void each(const F& f, int64_t n) const {
    if (n <= 0) return;
    each_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(f, n);
    WAN22_CUDA_CHECK_LAUNCH();
  }
  template <class T>
  void rms_norm(const T* x, const float* bias, const float* gamma, T* y, int64_t rows, int64_t c,
                float sqrt_c, bool silu, T* y2, int64_t y2_from) const {
    rms_norm_act_kernel<T><<<grid_for(rows, kThreads / 32), kThreads, 0, stream>>>(
        x, bias, gamma, y, rows, c, sqrt_c, silu, y2, y2_from);
    WAN22_CUDA_CHECK_LAUNCH();
  }
  template <class T>
  void softmax(const float* s, T* p, int64_t rows, int64_t cols) const {
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(rows, 65535));
    softmax_rows_kernel<T><<<blocks, kThreads, 0, stream>>>(s, p, rows, cols);
    WAN22_CUDA_CHECK_LAUNCH();
  }
};

struct HostExec {
  template <class F>
  void each(const F& f, int64_t n) const {
    if (n <= 0) return;
    parallel_for(0, n, 1024, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) f(i);
    });
  }
  template <class T>
  void rms_norm(const T* x, const float* bias, const float* gamma, T* y, int64_t rows, int64_t c,
                float sqrt_c, bool silu, T* y2, int64_t y2_from) const {
    parallel_for(0, rows, 16, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        T* copy = y2 && r >= y2_from ? y2 + (r - y2_from) * c : nullptr;
        rms_norm_row_host(x + r * c, bias, gamma, y + r * c, copy, c, sqrt_c, silu);
      }
    });
  }
  template <class T>
  void softmax(const float* s, T* p, int64_t rows, int64_t cols) const {
    parallel_for(0, rows, 4, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) softmax_row_host(s + r * cols, p + r * cols, cols);
    });
  }
};

// Runs body(executor) on the executor ex names.
template <class Body>
void with_exec(const Exec& ex, Body&& body) {
  if (ex.host) {
    body(HostExec{});
  } else {
    body(DeviceExec{ex.stream});
  }
}

// Calls body with a null pointer of the element type of dt (bf16 or f32).
template <class F>
void dispatch(DType dt, const char* op, F&& body) {
  if (dt == DType::kBF16) {
    body(static_cast<bf16_t*>(nullptr));
  } else if (dt == DType::kF32) {
    body(static_cast<float*>(nullptr));
  } else {
    throw Error(ErrorCode::kUnsupported,
                std::string(op) + ": activations must be bf16 or f32, got " + dtype_name(dt));
  }
}

void check_c8(const char* op, int64_t c) {
  require(c > 0 && c % 8 == 0, op, "channels must be a multiple of 8, got " + std::to_string(c));
}

// ---------------- functors ----------------

template <class T>
struct AddBiasResidualOp {
  T* y;
  const float* bias;
  const T* r;
  const float* r_bias;
  int64_t groups_row;
  HD void operator()(int64_t g) const {
    const int64_t c0 = (g % groups_row) * 8;
    float v[8], a[8];
    load8(y + g * 8, v);
    if (bias) load8(bias + c0, a), add8(v, a);
    if (r) load8(r + g * 8, a), add8(v, a);
    if (r_bias) load8(r_bias + c0, a), add8(v, a);
    store8(y + g * 8, v);
  }
};

template <class T>
struct InterleaveTimeOp {  // out [2t, hw, c] from y [t, hw, 2c]
  const T* y;
  const float* bias;
  T* out;
  int64_t hw, c;
  HD void operator()(int64_t g) const {
    const int64_t gc = c >> 3;
    const int64_t cg = g % gc;
    const int64_t r = g / gc;
    const int64_t p = r % hw, f = r / hw;
    const int64_t ch = (f & 1) * c + cg * 8;
    float v[8], b[8];
    load8(y + ((f >> 1) * hw + p) * 2 * c + ch, v);
    if (bias) load8(bias + ch, b), add8(v, b);
    store8(out + g * 8, v);
  }
};

template <class T>
struct UpsampleNearestOp {  // out [t, 2h, 2w, c]
  const T* x;
  T* out;
  int64_t h, w, c;
  HD void operator()(int64_t g) const {
    const int64_t gc = c >> 3;
    const int64_t cg = g % gc;
    int64_t r = g / gc;
    const int64_t X = r % (2 * w);
    r /= 2 * w;
    const int64_t Y = r % (2 * h), f = r / (2 * h);
    float v[8];
    load8(x + ((f * h + (Y >> 1)) * w + (X >> 1)) * c + cg * 8, v);
    store8(out + g * 8, v);
  }
};

template <class T>
struct PadBottomRightOp {  // out [t, h+1, w+1, c]
  const T* x;
  T* out;
  int64_t h, w, c;
  HD void operator()(int64_t g) const {
    const int64_t gc = c >> 3;
    const int64_t cg = g % gc;
    int64_t r = g / gc;
    const int64_t X = r % (w + 1);
    r /= w + 1;
    const int64_t Y = r % (h + 1), f = r / (h + 1);
    float v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (Y < h && X < w) load8(x + ((f * h + Y) * w + X) * c + cg * 8, v);
    store8(out + g * 8, v);
  }
};

// DupUp3D read of output frame f, pixel (Y, X), channel o (see vae_kernels.h).
template <class T>
struct DupTerm {
  const T* x = nullptr;
  int64_t h = 0, w = 0, cin = 0;
  int64_t ft = 1, fs = 1, repeats = 1, drop = 0;
  HD float operator()(int64_t f, int64_t Y, int64_t X, int64_t o) const {
    const int64_t fd = f + drop;
    const int64_t k = ((o * ft + fd % ft) * fs + Y % fs) * fs + X % fs;
    return ld(x + (((fd / ft) * h + Y / fs) * w + X / fs) * cin + k / repeats);
  }
};

template <class T>
DupTerm<T> dup_term(const DupUp& d, int64_t cout, int64_t t_out, int64_t h_out, int64_t w_out) {
  DupTerm<T> a;
  if (!d.x) return a;
  const int64_t factor = static_cast<int64_t>(d.ft) * d.fs * d.fs;
  require(d.ft >= 1 && d.fs >= 1 && (cout * factor) % d.cin == 0, "DupUp3D",
          "out_channels * factor not divisible by in_channels");
  a.x = static_cast<const T*>(d.x);
  a.h = d.h, a.w = d.w, a.cin = d.cin, a.ft = d.ft, a.fs = d.fs;
  a.repeats = cout * factor / d.cin;
  a.drop = d.first_chunk ? d.ft - 1 : 0;
  require(t_out + a.drop == d.t * d.ft && h_out == d.h * d.fs && w_out == d.w * d.fs, "DupUp3D",
          "the shortcut input [" + std::to_string(d.t) + "," + std::to_string(d.h) + "," +
              std::to_string(d.w) + "] does not unfold to the output [" + std::to_string(t_out) +
              "," + std::to_string(h_out) + "," + std::to_string(w_out) + "]");
  return a;
}

template <class T>
struct SubpixelShuffleOp {  // out [t, 2h, 2w, c] from y [t, h+1, w+1, 4c]
  const T* y;
  const float* bias;
  T* out;
  int64_t h, w, c;
  DupTerm<T> dup;
  HD void operator()(int64_t g) const {
    const int64_t gc = c >> 3;
    const int64_t cg = g % gc;
    int64_t r = g / gc;
    const int64_t X = r % (2 * w);
    r /= 2 * w;
    const int64_t Y = r % (2 * h), f = r / (2 * h);
    const int64_t a = Y & 1, b = X & 1, i = Y >> 1, j = X >> 1;
    float v[8], bb[8];
    load8(y + ((f * (h + 1) + i + a) * (w + 1) + j + b) * 4 * c + (2 * a + b) * c + cg * 8, v);
    if (bias) load8(bias + cg * 8, bb), add8(v, bb);
    if (dup.x) {
      for (int q = 0; q < 8; ++q) v[q] += dup(f, Y, X, cg * 8 + q);
    }
    store8(out + g * 8, v);
  }
};

template <class T>
struct AddBiasDupupOp {  // out [t, h, w, c] += bias + dup
  T* out;
  const float* bias;
  int64_t h, w, c;
  DupTerm<T> dup;
  HD void operator()(int64_t g) const {
    const int64_t gc = c >> 3;
    const int64_t cg = g % gc;
    int64_t r = g / gc;
    const int64_t X = r % w;
    r /= w;
    const int64_t Y = r % h, f = r / h;
    float v[8], bb[8];
    load8(out + g * 8, v);
    if (bias) load8(bias + cg * 8, bb), add8(v, bb);
    if (dup.x) {
      for (int q = 0; q < 8; ++q) v[q] += dup(f, Y, X, cg * 8 + q);
    }
    store8(out + g * 8, v);
  }
};

template <class T>
struct AddAvgdownOp {  // out [to, ho, wo, cout] += mean over the channel group of the folded input
  T* out;
  int64_t ho, wo, cout;
  const T* x;
  int64_t tin, hin, win, cin;
  int64_t ft, fs, group, pad_t;
  HD void operator()(int64_t i) const {
    const int64_t o = i % cout;
    int64_t r = i / cout;
    const int64_t X = r % wo;
    r /= wo;
    const int64_t Y = r % ho, f = r / ho;
    float acc = 0.0f;
    for (int64_t gi = 0; gi < group; ++gi) {
      int64_t k = o * group + gi;
      const int64_t d = k % fs;
      k /= fs;
      const int64_t b = k % fs;
      k /= fs;
      const int64_t a = k % ft, ci = k / ft;
      const int64_t ti = f * ft + a - pad_t;
      if (ti < 0 || ti >= tin) continue;
      acc += ld(x + ((ti * hin + Y * fs + b) * win + X * fs + d) * cin + ci);
    }
    st(out + i, ld(out + i) + acc / static_cast<float>(group));
  }
};

HD inline float blend_weight(const TileBlend& b, int64_t Y, int64_t X, int64_t th, int64_t tw) {
  float wgt = 1.0f;
  if (b.ramp_top > 0)
    wgt *= fminf(1.0f, (static_cast<float>(Y) + 0.5f) / static_cast<float>(b.ramp_top));
  if (b.ramp_bottom > 0)
    wgt *= fminf(1.0f, (static_cast<float>(th - Y) - 0.5f) / static_cast<float>(b.ramp_bottom));
  if (b.ramp_left > 0)
    wgt *= fminf(1.0f, (static_cast<float>(X) + 0.5f) / static_cast<float>(b.ramp_left));
  if (b.ramp_right > 0)
    wgt *= fminf(1.0f, (static_cast<float>(tw - X) - 0.5f) / static_cast<float>(b.ramp_right));
  return wgt;
}

template <class T>
struct VideoToActOp {  // out [t, h/p, w/p, cp] from the region of video f32 [C, F, H, W]
  const float* video;
  int64_t C, F, H, W, f0, y0, x0, h, w;
  int64_t p;
  T* out;
  int64_t cp;
  HD void operator()(int64_t i) const {
    const int64_t hp = h / p, wp = w / p;
    const int64_t ch = i % cp;
    int64_t r = i / cp;
    const int64_t xx = r % wp;
    r /= wp;
    const int64_t yy = r % hp, f = r / hp;
    float v = 0.0f;
    if (ch < C * p * p) {
      const int64_t q = ch % p, rr = (ch / p) % p, c = ch / (p * p);
      v = video[((c * F + f0 + f) * H + y0 + yy * p + q) * W + x0 + xx * p + rr];
    }
    st(out + i, v);
  }
};

template <class T>
struct LatentToActOp {  // out [t, h, w, zp] from the latent region
  const float* lat;
  int64_t z, F, Hl, Wl, f0, y0, x0, h, w;
  const float* mean;
  const float* inv_std;
  T* out;
  int64_t zp;
  HD void operator()(int64_t i) const {
    const int64_t ch = i % zp;
    int64_t r = i / zp;
    const int64_t xx = r % w;
    r /= w;
    const int64_t yy = r % h, f = r / h;
    float v = 0.0f;
    if (ch < z) v = lat[((ch * F + f0 + f) * Hl + y0 + yy) * Wl + x0 + xx] / inv_std[ch] + mean[ch];
    st(out + i, v);
  }
};

template <class T>
struct ActToLatentOp {  // latent f32 [z, F, Hl, Wl] from mu [t, h, w, cp] (tile placement)
  const T* mu;
  const float* bias;
  int64_t t, h, w, cp, z;
  const float* mean;
  const float* inv_std;
  float* lat;
  int64_t F, Hl, Wl, f0;
  TileBlend blend;
  HD void operator()(int64_t i) const {
    const int64_t xx = i % w;
    int64_t r = i / w;
    const int64_t yy = r % h;
    r /= h;
    const int64_t f = r % t, ch = r / t;
    float v = ld(mu + ((f * h + yy) * w + xx) * cp + ch);
    if (bias) v += bias[ch];
    v = (v - mean[ch]) * inv_std[ch];
    float* dst = lat + ((ch * F + f0 + f) * Hl + blend.y0 + yy) * Wl + blend.x0 + xx;
    if (blend.accumulate) {
      *dst += blend_weight(blend, yy, xx, h, w) * v;
    } else {
      *dst = v;
    }
  }
};

template <class T>
struct HeadToVideoOp {  // y [t, h, w, cp] (+ bias) -> video f32 [C, F, H, W] (unpatchify, tile
                        // placement)
  const T* y;
  const float* bias;
  int64_t t, h, w, cp, p;
  float* video;
  int64_t F, H, W, f0;
  TileBlend blend;
  HD void operator()(int64_t i) const {
    const int64_t th = h * p, tw = w * p;
    const int64_t X = i % tw;
    int64_t r = i / tw;
    const int64_t Y = r % th;
    r /= th;
    const int64_t f = r % t, c = r / t;
    const int64_t ch = (c * p + X % p) * p + Y % p;
    float v = ld(y + ((f * h + Y / p) * w + X / p) * cp + ch);
    if (bias) v += bias[ch];
    float* dst = video + ((c * F + f0 + f) * H + blend.y0 + Y) * W + blend.x0 + X;
    if (blend.accumulate) {
      *dst += blend_weight(blend, Y, X, th, tw) * v;
    } else {
      *dst = v;
    }
  }
};

struct AddTileWeightOp {
  float* wsum;
  int64_t W, th, tw;
  TileBlend blend;
  HD void operator()(int64_t i) const {
    const int64_t X = i % tw, Y = i / tw;
    wsum[(blend.y0 + Y) * W + blend.x0 + X] += blend_weight(blend, Y, X, th, tw);
  }
};

struct DivideByWeightOp {
  float* video;
  const float* wsum;
  int64_t hw;
  HD void operator()(int64_t i) const { video[i] /= wsum[i % hw]; }
};

template <class T>
struct ZeroPaddingOp {
  T* p;
  int64_t cp, c_real, group, out_real;
  HD void operator()(int64_t i) const {
    const int64_t c = i % cp, r = i / cp;
    if (c >= c_real || r / group >= out_real) st(p + i, 0.0f);
  }
};

#undef HD

template <class T>
T* typed(void* p) {
  return static_cast<T*>(p);
}
template <class T>
const T* typed(const void* p) {
  return static_cast<const T*>(p);
}

}  // namespace

// ---------------- entry points ----------------

void rms_norm_act(DType dt, const void* x, const float* bias, const float* gamma, void* y,
                  int64_t rows, int64_t c, int64_t c_real, bool silu, void* y2, int64_t y2_from,
                  Exec ex) {
  check_c8("rms_norm_act", c);
  if (rows <= 0) return;
  require(!y2 || (y2_from >= 0 && y2_from <= rows), "rms_norm_act", "bad second-copy row range");
  const float sqrt_c = static_cast<float>(std::sqrt(static_cast<double>(c_real)));
  dispatch(dt, "rms_norm_act", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    with_exec(ex, [&](const auto& e) {
      e.rms_norm(typed<T>(x), bias, gamma, typed<T>(y), rows, c, sqrt_c, silu, typed<T>(y2),
                 y2_from);
    });
  });
}

void add_bias_residual(DType dt, void* y, const float* bias, const void* r, const float* r_bias,
                       int64_t rows, int64_t c, Exec ex) {
  check_c8("add_bias_residual", c);
  if (rows <= 0 || (!bias && !r && !r_bias)) return;
  dispatch(dt, "add_bias_residual", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const AddBiasResidualOp<T> op{typed<T>(y), bias, typed<T>(r), r_bias, c / 8};
    with_exec(ex, [&](const auto& e) { e.each(op, rows * c / 8); });
  });
}

void interleave_time(DType dt, const void* y, const float* bias, void* out, int64_t t, int64_t hw,
                     int64_t c, Exec ex) {
  check_c8("interleave_time", c);
  dispatch(dt, "interleave_time", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const InterleaveTimeOp<T> op{typed<T>(y), bias, typed<T>(out), hw, c};
    with_exec(ex, [&](const auto& e) { e.each(op, 2 * t * hw * c / 8); });
  });
}

void upsample_nearest2x(DType dt, const void* x, void* out, int64_t t, int64_t h, int64_t w,
                        int64_t c, Exec ex) {
  check_c8("upsample_nearest2x", c);
  dispatch(dt, "upsample_nearest2x", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const UpsampleNearestOp<T> op{typed<T>(x), typed<T>(out), h, w, c};
    with_exec(ex, [&](const auto& e) { e.each(op, t * 4 * h * w * c / 8); });
  });
}

void pad_bottom_right(DType dt, const void* x, void* out, int64_t t, int64_t h, int64_t w,
                      int64_t c, Exec ex) {
  check_c8("pad_bottom_right", c);
  dispatch(dt, "pad_bottom_right", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const PadBottomRightOp<T> op{typed<T>(x), typed<T>(out), h, w, c};
    with_exec(ex, [&](const auto& e) { e.each(op, t * (h + 1) * (w + 1) * c / 8); });
  });
}

void subpixel_shuffle(DType dt, const void* y, const float* bias, void* out, int64_t t, int64_t h,
                      int64_t w, int64_t c, const DupUp& dup, Exec ex) {
  check_c8("subpixel_shuffle", c);
  dispatch(dt, "subpixel_shuffle", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const SubpixelShuffleOp<T> op{
        typed<T>(y), bias, typed<T>(out), h, w, c, dup_term<T>(dup, c, t, 2 * h, 2 * w)};
    with_exec(ex, [&](const auto& e) { e.each(op, t * 4 * h * w * c / 8); });
  });
}

void add_bias_dupup(DType dt, void* out, const float* bias, int64_t t, int64_t h, int64_t w,
                    int64_t c, const DupUp& dup, Exec ex) {
  check_c8("add_bias_dupup", c);
  dispatch(dt, "add_bias_dupup", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const AddBiasDupupOp<T> op{typed<T>(out), bias, h, w, c, dup_term<T>(dup, c, t, h, w)};
    with_exec(ex, [&](const auto& e) { e.each(op, t * h * w * c / 8); });
  });
}

void add_avgdown(DType dt, void* out, int64_t to, int64_t ho, int64_t wo, int64_t cout,
                 const void* x, int64_t tin, int64_t hin, int64_t win, int64_t cin, int ft, int fs,
                 Exec ex) {
  const int64_t factor = static_cast<int64_t>(ft) * fs * fs;
  require(ft >= 1 && fs >= 1 && (cin * factor) % cout == 0, "AvgDown3D",
          "in_channels * factor not divisible by out_channels");
  const int64_t pad_t = (ft - tin % ft) % ft;
  require((tin + pad_t) / ft == to && hin == ho * fs && win == wo * fs, "AvgDown3D",
          "input [" + std::to_string(tin) + "," + std::to_string(hin) + "," + std::to_string(win) +
              "] does not fold to the output [" + std::to_string(to) + "," + std::to_string(ho) +
              "," + std::to_string(wo) + "]");
  dispatch(dt, "add_avgdown", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const AddAvgdownOp<T> op{typed<T>(out), ho,  wo, cout, typed<T>(x),         tin,  hin,
                             win,           cin, ft, fs,   cin * factor / cout, pad_t};
    with_exec(ex, [&](const auto& e) { e.each(op, to * ho * wo * cout); });
  });
}

void video_to_act(DType dt, const float* video, int64_t C, int64_t F, int64_t H, int64_t W,
                  int64_t f0, int64_t t, int64_t y0, int64_t x0, int64_t h, int64_t w, int p,
                  void* out, int64_t cp, Exec ex) {
  require(p >= 1 && h % p == 0 && w % p == 0, "video_to_act",
          "region size not divisible by the patch size");
  require(
      cp >= C * p * p && f0 >= 0 && f0 + t <= F && y0 >= 0 && y0 + h <= H && x0 >= 0 && x0 + w <= W,
      "video_to_act", "too few channels or region out of range");
  dispatch(dt, "video_to_act", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const VideoToActOp<T> op{video, C, F, H, W, f0, y0, x0, h, w, p, typed<T>(out), cp};
    with_exec(ex, [&](const auto& e) { e.each(op, t * (h / p) * (w / p) * cp); });
  });
}

void latent_to_act(DType dt, const float* latent, int64_t z, int64_t F, int64_t Hl, int64_t Wl,
                   int64_t f0, int64_t t, int64_t y0, int64_t x0, int64_t h, int64_t w,
                   const float* mean, const float* inv_std, void* out, int64_t zp, Exec ex) {
  require(f0 >= 0 && f0 + t <= F && y0 >= 0 && y0 + h <= Hl && x0 >= 0 && x0 + w <= Wl && zp >= z,
          "latent_to_act", "region outside the latent");
  dispatch(dt, "latent_to_act", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const LatentToActOp<T> op{latent,        z, F, Hl, Wl, f0, y0, x0, h, w, mean, inv_std,
                              typed<T>(out), zp};
    with_exec(ex, [&](const auto& e) { e.each(op, t * h * w * zp); });
  });
}

void act_to_latent(DType dt, const void* mu, const float* bias, int64_t t, int64_t h, int64_t w,
                   int64_t cp, int64_t z, const float* mean, const float* inv_std, float* latent,
                   int64_t F, int64_t Hl, int64_t Wl, int64_t f0, const TileBlend& blend, Exec ex) {
  require(cp >= z && f0 >= 0 && f0 + t <= F && blend.y0 >= 0 && blend.y0 + h <= Hl &&
              blend.x0 >= 0 && blend.x0 + w <= Wl,
          "act_to_latent", "bad channel count, frame range or tile placement");
  dispatch(dt, "act_to_latent", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const ActToLatentOp<T> op{typed<T>(mu), bias,   t, h,  w,  cp, z,    mean,
                              inv_std,      latent, F, Hl, Wl, f0, blend};
    with_exec(ex, [&](const auto& e) { e.each(op, z * t * h * w); });
  });
}

void head_to_video(DType dt, const void* y, const float* bias, int64_t t, int64_t h, int64_t w,
                   int64_t cp, int p, float* video, int64_t C, int64_t F, int64_t H, int64_t W,
                   int64_t f0, const TileBlend& blend, Exec ex) {
  require(cp >= C * p * p, "head_to_video", "too few channels");
  require(f0 >= 0 && f0 + t <= F && blend.y0 >= 0 && blend.y0 + h * p <= H && blend.x0 >= 0 &&
              blend.x0 + w * p <= W,
          "head_to_video", "tile outside the video");
  dispatch(dt, "head_to_video", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const HeadToVideoOp<T> op{typed<T>(y), bias, t, h, w, cp, p, video, F, H, W, f0, blend};
    with_exec(ex, [&](const auto& e) { e.each(op, C * t * h * p * w * p); });
  });
}

void add_tile_weight(float* wsum, int64_t H, int64_t W, int64_t th, int64_t tw,
                     const TileBlend& blend, Exec ex) {
  require(blend.y0 >= 0 && blend.y0 + th <= H && blend.x0 >= 0 && blend.x0 + tw <= W,
          "add_tile_weight", "tile outside the video");
  const AddTileWeightOp op{wsum, W, th, tw, blend};
  with_exec(ex, [&](const auto& e) { e.each(op, th * tw); });
}

void divide_by_weight(float* video, const float* wsum, int64_t C, int64_t F, int64_t H, int64_t W,
                      Exec ex) {
  const DivideByWeightOp op{video, wsum, H * W};
  with_exec(ex, [&](const auto& e) { e.each(op, C * F * H * W); });
}

void softmax_rows(DType dt, const float* s, void* p, int64_t rows, int64_t cols, Exec ex) {
  if (rows <= 0 || cols <= 0) return;
  dispatch(dt, "softmax_rows", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    with_exec(ex, [&](const auto& e) { e.softmax(s, typed<T>(p), rows, cols); });
  });
}

void zero_padding(DType dt, void* p, int64_t rows, int64_t cp, int64_t c_real, int64_t group,
                  int64_t out_real, Exec ex) {
  if (rows * cp <= 0 || (c_real >= cp && (rows + group - 1) / group <= out_real)) return;
  dispatch(dt, "zero_padding", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const ZeroPaddingOp<T> op{typed<T>(p), cp, c_real, group, out_real};
    with_exec(ex, [&](const auto& e) { e.each(op, rows * cp); });
  });
}

}  // namespace wan22::cuda::vae
