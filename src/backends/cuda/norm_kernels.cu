// LayerNorm + modulation and RMSNorm + 3-axis RoPE (bf16 storage, fp32 math).
#include <cmath>

#include "backends/cuda/kernel_util.cuh"
#include "backends/cuda/kernels.h"

namespace wan22::cuda {

using detail::aligned16;
using detail::block_sum;
using detail::require;

namespace {

template <int V>
struct FVec;
template <>
struct FVec<4> {
  using T = float4;
};
template <>
struct FVec<1> {
  using T = float;
};

template <int V>
__device__ __forceinline__ void load_f(const float* p, float* f) {
  if constexpr (V == 4) {
    float4 t = *reinterpret_cast<const float4*>(p);
    f[0] = t.x, f[1] = t.y, f[2] = t.z, f[3] = t.w;
  } else {
    f[0] = *p;
  }
}

template <int V>
__device__ __forceinline__ void store_bf(bf16* p, const float* f) {
  if constexpr (V == 4) {
    __nv_bfloat162 a = __floats2bfloat162_rn(f[0], f[1]), b = __floats2bfloat162_rn(f[2], f[3]);
    uint2 u;
    u.x = *reinterpret_cast<uint32_t*>(&a);
    u.y = *reinterpret_cast<uint32_t*>(&b);
    *reinterpret_cast<uint2*>(p) = u;
  } else {
    *p = __float2bfloat16_rn(f[0]);
  }
}

template <int V>
__device__ __forceinline__ void load_bf(const bf16* p, float* f) {
  if constexpr (V == 4) {
    uint2 u = *reinterpret_cast<const uint2*>(p);
    float2 a = __bfloat1622float2(*reinterpret_cast<__nv_bfloat162*>(&u.x));
    float2 b = __bfloat1622float2(*reinterpret_cast<__nv_bfloat162*>(&u.y));
    f[0] = a.x, f[1] = a.y, f[2] = b.x, f[3] = b.y;
  } else {
    f[0] = __bfloat162float(*p);
  }
}

template <int V>
__device__ __forceinline__ void store_f(float* p, const float* f) {
  if constexpr (V == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(f[0], f[1], f[2], f[3]);
  } else {
    *p = f[0];
  }
}

// One block per row. With kRes the first pass also applies x += gate * y and stores x. The later
// passes re-read x (each thread only its own elements, from L1/L2) and write the bf16 output.
template <int V, bool kRes>
__global__ void layernorm_modulate_kernel(float* x, bf16* __restrict__ out, int64_t dim, float eps,
                                          const float* __restrict__ weight, const float* __restrict__ bias,
                                          TokenVec shift, TokenVec scale, const bf16* __restrict__ y, int64_t ld_y,
                                          TokenVec gate) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  float* xr = x + row * dim;
  bf16* orow = out + row * dim;
  const int64_t nv = dim / V;
  float f[V];
  float s = 0.0f;
  [[maybe_unused]] const float* g = kRes && gate.a ? gate.at(row) : nullptr;
  for (int64_t i = threadIdx.x; i < nv; i += blockDim.x) {
    load_f<V>(xr + i * V, f);
    if constexpr (kRes) {
      float fy[V], fg[V];
      load_bf<V>(y + row * ld_y + i * V, fy);
      if (g) {
        load_f<V>(g + i * V, fg);
#pragma unroll
        for (int e = 0; e < V; ++e) f[e] += fg[e] * fy[e];
      } else {
#pragma unroll
        for (int e = 0; e < V; ++e) f[e] += fy[e];
      }
      store_f<V>(xr + i * V, f);
    }
#pragma unroll
    for (int e = 0; e < V; ++e) s += f[e];
  }
  const float mean = block_sum(s, scratch) / static_cast<float>(dim);
  float s2 = 0.0f;
  for (int64_t i = threadIdx.x; i < nv; i += blockDim.x) {
    load_f<V>(xr + i * V, f);
#pragma unroll
    for (int e = 0; e < V; ++e) {
      const float d = f[e] - mean;
      s2 += d * d;
    }
  }
  const float rstd = rsqrtf(block_sum(s2, scratch) / static_cast<float>(dim) + eps);
  const float* sh = shift.a ? shift.at(row) : nullptr;
  const float* sc = scale.a ? scale.at(row) : nullptr;
  for (int64_t i = threadIdx.x; i < nv; i += blockDim.x) {
    load_f<V>(xr + i * V, f);
    float wv[V], bv[V], shv[V], scv[V];
    if (weight) {
      load_f<V>(weight + i * V, wv);
      load_f<V>(bias + i * V, bv);
    }
    if (sc) {
      load_f<V>(sh + i * V, shv);
      load_f<V>(sc + i * V, scv);
    }
#pragma unroll
    for (int e = 0; e < V; ++e) {
      float y = (f[e] - mean) * rstd;
      if (weight) y = y * wv[e] + bv[e];
      if (sc) y = y * (1.0f + scv[e]) + shv[e];
      f[e] = y;
    }
    store_bf<V>(orow + i * V, f);
  }
}

struct RopeGeom {
  const float2* table;
  int64_t grid_f, grid_h, grid_w;
  int cf, ch;      // pairs of the frame and height axes (width has ch too)
  int half;        // head_dim / 2
  int64_t off_h, off_w;
  int64_t row_offset;  // flat row of the launch's row 0 (token segments)
};

// The rotation factors of one token: rows of the frame, height and width tables for its grid
// position (no rotation beyond the grid or without a table).
struct RopeRow {
  bool rotate = false;
  const float2 *tf = nullptr, *th = nullptr, *tw = nullptr;
  int cf = 0, ch = 0;

  __device__ RopeRow(const RopeGeom& g, int64_t l) : cf(g.cf), ch(g.ch) {
    rotate = g.table != nullptr && l < g.grid_f * g.grid_h * g.grid_w;
    if (!rotate) return;
    const int64_t fi = l / (g.grid_h * g.grid_w);
    const int64_t hi = (l / g.grid_w) % g.grid_h;
    const int64_t wi = l % g.grid_w;
    tf = g.table + fi * g.cf;
    th = g.table + g.off_h + hi * g.ch;
    tw = g.table + g.off_w + wi * g.ch;
  }
  // cos/sin of complex pair j (0 <= j < half).
  __device__ float2 cs(int j) const { return j < cf ? tf[j] : (j < cf + ch ? th[j - cf] : tw[j - cf - ch]); }
};

// VP pairs per access (4 pairs = 8 bf16 = 16 bytes, or 1 pair = 4 bytes).
template <int VP>
__global__ void rmsnorm_rope_kernel(const bf16* __restrict__ x, int64_t ld_x, bf16* out, int64_t ld_out,
                                    int64_t dim, const float* __restrict__ weight, float eps, RopeGeom g,
                                    int64_t tokens_per_item) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const bf16* xr = x + row * ld_x;
  bf16* orow = out + row * ld_out;
  const int64_t npairs = dim / 2;
  const int64_t nv = npairs / VP;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < nv; i += blockDim.x) {
    float f[2 * VP];
    if constexpr (VP == 4) {
      detail::bf16x8_to_f32(*reinterpret_cast<const detail::Bf16x8*>(xr + i * 8), f);
    } else {
      float2 t = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(xr + i * 2));
      f[0] = t.x, f[1] = t.y;
    }
#pragma unroll
    for (int e = 0; e < 2 * VP; ++e) s += f[e] * f[e];
  }
  const float rms = rsqrtf(block_sum(s, scratch) / static_cast<float>(dim) + eps);
  const RopeRow rr(g, (row + g.row_offset) % tokens_per_item);
  // Reading x before writing out keeps out == x safe: each element is read and written by one thread.
  for (int64_t i = threadIdx.x; i < nv; i += blockDim.x) {
    float f[2 * VP];
    if constexpr (VP == 4) {
      detail::bf16x8_to_f32(*reinterpret_cast<const detail::Bf16x8*>(xr + i * 8), f);
    } else {
      float2 t = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(xr + i * 2));
      f[0] = t.x, f[1] = t.y;
    }
#pragma unroll
    for (int p = 0; p < VP; ++p) {
      const int64_t pair = i * VP + p;
      float a = f[2 * p] * rms, b = f[2 * p + 1] * rms;
      if (weight) {
        a *= weight[2 * pair];
        b *= weight[2 * pair + 1];
      }
      if (rr.rotate) {
        const float2 cs = rr.cs(static_cast<int>(pair % g.half));
        const float ra = a * cs.x - b * cs.y;
        const float rb = a * cs.y + b * cs.x;
        a = ra, b = rb;
      }
      f[2 * p] = a, f[2 * p + 1] = b;
    }
    if constexpr (VP == 4) {
      *reinterpret_cast<detail::Bf16x8*>(orow + i * 8) = detail::f32_to_bf16x8(f);
    } else {
      *reinterpret_cast<__nv_bfloat162*>(orow + i * 2) = __floats2bfloat162_rn(f[0], f[1]);
    }
  }
}

// ---- warp-per-row variants for the common widths: the row stays in registers (one read of x,
// no block barriers). LayerNorm: dim = 128 * N (a float4 per lane per step); RMSNorm: dim = 256 * N
// (8 bf16 per lane per step). Element index of step j, lane l: (j * 32 + l) * vector width.
template <int N, bool kRes>
__global__ void __launch_bounds__(128) layernorm_warp_kernel(float* x, bf16* __restrict__ out, int64_t rows,
                                                             float eps, const float* __restrict__ weight,
                                                             const float* __restrict__ bias, TokenVec shift,
                                                             TokenVec scale, const bf16* __restrict__ y, int64_t ld_y,
                                                             TokenVec gate) {
  constexpr int kDim = 128 * N;
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= rows) return;
  float* xr = x + row * kDim;
  float v[N][4];
#pragma unroll
  for (int j = 0; j < N; ++j) load_f<4>(xr + (j * 32 + lane) * 4, v[j]);
  if constexpr (kRes) {
    const float* g = gate.a ? gate.at(row) : nullptr;
    const bf16* yr = y + row * ld_y;
#pragma unroll
    for (int j = 0; j < N; ++j) {
      const int c = (j * 32 + lane) * 4;
      float fy[4];
      load_bf<4>(yr + c, fy);
      if (g) {
        float fg[4];
        load_f<4>(g + c, fg);
#pragma unroll
        for (int e = 0; e < 4; ++e) v[j][e] += fg[e] * fy[e];
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) v[j][e] += fy[e];
      }
      store_f<4>(xr + c, v[j]);
    }
  }
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < N; ++j) s += (v[j][0] + v[j][1]) + (v[j][2] + v[j][3]);
  const float mean = detail::warp_sum(s) * (1.0f / kDim);
  float s2 = 0.0f;
#pragma unroll
  for (int j = 0; j < N; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float d = v[j][e] - mean;
      s2 += d * d;
    }
  const float rstd = rsqrtf(detail::warp_sum(s2) * (1.0f / kDim) + eps);
  const float* sh = shift.a ? shift.at(row) : nullptr;
  const float* sc = scale.a ? scale.at(row) : nullptr;
  bf16* orow = out + row * kDim;
#pragma unroll
  for (int j = 0; j < N; ++j) {
    const int c = (j * 32 + lane) * 4;
    float o[4], wv[4], bv[4], shv[4], scv[4];
    if (weight) {
      load_f<4>(weight + c, wv);
      load_f<4>(bias + c, bv);
    }
    if (sc) {
      load_f<4>(sh + c, shv);
      load_f<4>(sc + c, scv);
    }
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      float t = (v[j][e] - mean) * rstd;
      if (weight) t = t * wv[e] + bv[e];
      if (sc) t = t * (1.0f + scv[e]) + shv[e];
      o[e] = t;
    }
    store_bf<4>(orow + c, o);
  }
}

template <int N>
__global__ void __launch_bounds__(128) rmsnorm_rope_warp_kernel(const bf16* x, int64_t ld_x, bf16* out,
                                                                int64_t ld_out, int64_t rows,
                                                                const float* __restrict__ weight, float eps,
                                                                RopeGeom g, int64_t tokens_per_item) {
  constexpr int kDim = 256 * N;
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= rows) return;
  const bf16* xr = x + row * ld_x;
  float v[N][8];
#pragma unroll
  for (int j = 0; j < N; ++j) detail::bf16x8_to_f32(*reinterpret_cast<const detail::Bf16x8*>(xr + (j * 32 + lane) * 8), v[j]);
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < N; ++j)
#pragma unroll
    for (int e = 0; e < 8; ++e) s += v[j][e] * v[j][e];
  const float rms = rsqrtf(detail::warp_sum(s) * (1.0f / kDim) + eps);
  const RopeRow rr(g, (row + g.row_offset) % tokens_per_item);
  bf16* orow = out + row * ld_out;
#pragma unroll
  for (int j = 0; j < N; ++j) {
    const int c = (j * 32 + lane) * 8;
#pragma unroll
    for (int p = 0; p < 4; ++p) {
      float a = v[j][2 * p] * rms, b = v[j][2 * p + 1] * rms;
      if (weight) {
        a *= weight[c + 2 * p];
        b *= weight[c + 2 * p + 1];
      }
      if (rr.rotate) {
        const float2 cs = rr.cs((c / 2 + p) % g.half);
        const float ra = a * cs.x - b * cs.y;
        const float rb = a * cs.y + b * cs.x;
        a = ra, b = rb;
      }
      v[j][2 * p] = a, v[j][2 * p + 1] = b;
    }
    *reinterpret_cast<detail::Bf16x8*>(orow + c) = detail::f32_to_bf16x8(v[j]);
  }
}

template <bool kRes>
bool try_layernorm_warp(float* x, bf16* out, int64_t rows, int64_t dim, float eps, const float* weight,
                        const float* bias, TokenVec shift, TokenVec scale, const bf16* y, int64_t ld_y, TokenVec gate,
                        cudaStream_t stream) {
  if (dim % 128 != 0) return false;
  const unsigned grid = static_cast<unsigned>((rows + 3) / 4);  // 4 rows (warps) per block
#define WAN22_LN_CASE(n)                                                                                        \
  case n:                                                                                                       \
    layernorm_warp_kernel<n, kRes><<<grid, 128, 0, stream>>>(x, out, rows, eps, weight, bias, shift, scale, y, \
                                                             ld_y, gate);                                     \
    return true;
  switch (dim / 128) {
    WAN22_LN_CASE(2)
    WAN22_LN_CASE(4)
    WAN22_LN_CASE(8)
    WAN22_LN_CASE(12)
    WAN22_LN_CASE(16)
    WAN22_LN_CASE(24)
    WAN22_LN_CASE(32)
    WAN22_LN_CASE(40)
    default:
      return false;
  }
#undef WAN22_LN_CASE
}

bool try_rmsnorm_warp(const bf16* x, int64_t ld_x, bf16* out, int64_t ld_out, int64_t rows, int64_t dim,
                      const float* weight, float eps, const RopeGeom& g, int64_t tokens_per_item, cudaStream_t stream) {
  if (dim % 256 != 0) return false;
  const unsigned grid = static_cast<unsigned>((rows + 3) / 4);  // 4 rows (warps) per block
#define WAN22_RMS_CASE(n)                                                                                   \
  case n:                                                                                                   \
    rmsnorm_rope_warp_kernel<n><<<grid, 128, 0, stream>>>(x, ld_x, out, ld_out, rows, weight, eps, g,       \
                                                          tokens_per_item);                                 \
    return true;
  switch (dim / 256) {
    WAN22_RMS_CASE(1)
    WAN22_RMS_CASE(2)
    WAN22_RMS_CASE(4)
    WAN22_RMS_CASE(8)
    WAN22_RMS_CASE(12)
    WAN22_RMS_CASE(16)
    WAN22_RMS_CASE(20)
    default:
      return false;
  }
#undef WAN22_RMS_CASE
}

int threads_for(int64_t vectors) {
  int64_t t = ((vectors + 31) / 32) * 32;
  if (t < 32) t = 32;
  if (t > 256) t = 256;
  return static_cast<int>(t);
}

}  // namespace

namespace {

void launch_layernorm(float* x, bf16* out, int64_t rows, int64_t dim, float eps, const float* weight,
                      const float* bias, TokenVec shift, TokenVec scale, const bf16* y, int64_t ld_y, TokenVec gate,
                      cudaStream_t stream) {
  constexpr const char* kOp = "cuda::layernorm_modulate";
  require(rows >= 0 && dim > 0, kOp, "bad shape rows=" + std::to_string(rows) + " dim=" + std::to_string(dim));
  require((weight == nullptr) == (bias == nullptr), kOp, "weight and bias must both be given or both null");
  require((shift.a == nullptr) == (scale.a == nullptr), kOp, "shift and scale must both be given or both null");
  require(rows <= 0x7fffffff, kOp, "too many rows");
  if (rows == 0) return;
  bool vec = dim % 4 == 0 && aligned16(x) && (reinterpret_cast<uintptr_t>(out) & 7u) == 0;
  for (const float* p : {weight, bias, shift.a, shift.b, scale.a, scale.b, gate.a, gate.b}) vec = vec && aligned16(p);
  if (y) vec = vec && ld_y % 4 == 0 && (reinterpret_cast<uintptr_t>(y) & 7u) == 0;
  if (vec && y && try_layernorm_warp<true>(x, out, rows, dim, eps, weight, bias, shift, scale, y, ld_y, gate, stream)) {
    WAN22_CUDA_CHECK_LAUNCH();
    return;
  }
  if (vec && !y &&
      try_layernorm_warp<false>(x, out, rows, dim, eps, weight, bias, shift, scale, nullptr, 0, TokenVec{}, stream)) {
    WAN22_CUDA_CHECK_LAUNCH();
    return;
  }
  const int threads = threads_for(vec ? dim / 4 : dim);
  const unsigned grid = static_cast<unsigned>(rows);
  if (y) {
    require(ld_y >= dim, kOp, "residual row stride smaller than dim");
    if (vec) {
      layernorm_modulate_kernel<4, true><<<grid, threads, 0, stream>>>(x, out, dim, eps, weight, bias, shift, scale,
                                                                      y, ld_y, gate);
    } else {
      layernorm_modulate_kernel<1, true><<<grid, threads, 0, stream>>>(x, out, dim, eps, weight, bias, shift, scale,
                                                                      y, ld_y, gate);
    }
  } else if (vec) {
    layernorm_modulate_kernel<4, false><<<grid, threads, 0, stream>>>(x, out, dim, eps, weight, bias, shift, scale,
                                                                     nullptr, 0, TokenVec{});
  } else {
    layernorm_modulate_kernel<1, false><<<grid, threads, 0, stream>>>(x, out, dim, eps, weight, bias, shift, scale,
                                                                     nullptr, 0, TokenVec{});
  }
  WAN22_CUDA_CHECK_LAUNCH();
}

}  // namespace

void layernorm_modulate(const float* x, bf16* out, int64_t rows, int64_t dim, float eps, const float* weight,
                        const float* bias, TokenVec shift, TokenVec scale, cudaStream_t stream) {
  // x is only read on this path.
  launch_layernorm(const_cast<float*>(x), out, rows, dim, eps, weight, bias, shift, scale, nullptr, 0, TokenVec{},
                   stream);
}

void residual_layernorm_modulate(float* x, const bf16* y, int64_t ld_y, TokenVec gate, bf16* out, int64_t rows,
                                 int64_t dim, float eps, const float* weight, const float* bias, TokenVec shift,
                                 TokenVec scale, cudaStream_t stream) {
  require(y != nullptr, "cuda::residual_layernorm_modulate", "null residual input");
  launch_layernorm(x, out, rows, dim, eps, weight, bias, shift, scale, y, ld_y, gate, stream);
}

int64_t rope_table_size(int64_t grid_f, int64_t grid_h, int64_t grid_w, int head_dim) {
  const int64_t c = head_dim / 2;
  return grid_f * (c - 2 * (c / 3)) + (grid_h + grid_w) * (c / 3);
}

void rope_table_fill(float2* host, int64_t grid_f, int64_t grid_h, int64_t grid_w, int head_dim, double theta) {
  const int64_t D = head_dim, c = D / 2;
  const int64_t counts[3] = {c - 2 * (c / 3), c / 3, c / 3};
  const int64_t dims[3] = {D - 4 * (D / 6), 2 * (D / 6), 2 * (D / 6)};
  const int64_t grid[3] = {grid_f, grid_h, grid_w};
  int64_t o = 0;
  for (int a = 0; a < 3; ++a) {
    for (int64_t pos = 0; pos < grid[a]; ++pos) {
      for (int64_t i = 0; i < counts[a]; ++i) {
        const double freq = 1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(dims[a]));
        const double ang = static_cast<double>(pos) * freq;
        host[o++] = make_float2(static_cast<float>(std::cos(ang)), static_cast<float>(std::sin(ang)));
      }
    }
  }
}

void rmsnorm_rope(const bf16* x, int64_t ld_x, bf16* out, int64_t ld_out, int64_t rows, int64_t dim,
                  const float* weight, float eps, RopeTable rope, int64_t tokens_per_item, cudaStream_t stream) {
  constexpr const char* kOp = "cuda::rmsnorm_rope";
  require(rows >= 0 && dim > 0 && dim % 2 == 0, kOp, "dim must be even and positive, got " + std::to_string(dim));
  require(ld_x >= dim && ld_out >= dim && ld_x % 2 == 0 && ld_out % 2 == 0, kOp, "bad row strides");
  require(rows <= 0x7fffffff, kOp, "too many rows");
  require(tokens_per_item > 0, kOp, "tokens_per_item must be positive");
  RopeGeom g{};
  if (rope.table) {
    require(rope.head_dim > 0 && rope.head_dim % 2 == 0 && dim % rope.head_dim == 0, kOp,
            "head_dim " + std::to_string(rope.head_dim) + " must be even and divide dim " + std::to_string(dim));
    const int c = rope.head_dim / 2;
    g.table = rope.table;
    g.grid_f = rope.grid_f, g.grid_h = rope.grid_h, g.grid_w = rope.grid_w;
    g.cf = c - 2 * (c / 3);
    g.ch = c / 3;
    g.half = c;
    g.off_h = rope.grid_f * g.cf;
    g.off_w = g.off_h + rope.grid_h * g.ch;
    require(rope.row_offset >= 0, kOp, "negative row offset");
    g.row_offset = rope.row_offset;
  } else {
    g.half = 1;
  }
  if (rows == 0) return;
  const bool vec = dim % 8 == 0 && ld_x % 8 == 0 && ld_out % 8 == 0 && aligned16(x) && aligned16(out) &&
                   (rope.table == nullptr || (rope.head_dim / 2) % 4 == 0);
  if (vec && try_rmsnorm_warp(x, ld_x, out, ld_out, rows, dim, weight, eps, g, tokens_per_item, stream)) {
    WAN22_CUDA_CHECK_LAUNCH();
    return;
  }
  const int threads = threads_for(vec ? dim / 8 : dim / 2);
  if (vec) {
    rmsnorm_rope_kernel<4><<<static_cast<unsigned>(rows), threads, 0, stream>>>(x, ld_x, out, ld_out, dim, weight,
                                                                                 eps, g, tokens_per_item);
  } else {
    rmsnorm_rope_kernel<1><<<static_cast<unsigned>(rows), threads, 0, stream>>>(x, ld_x, out, ld_out, dim, weight,
                                                                                 eps, g, tokens_per_item);
  }
  WAN22_CUDA_CHECK_LAUNCH();
}

}  // namespace wan22::cuda
