// Kernels of the UMT5 encoder on the GPU (see t5_kernels.h): bf16 storage, fp32 math.
#include <cfloat>
#include <cmath>

#include "backends/cuda/kernel_util.cuh"
#include "backends/cuda/t5_kernels.h"

namespace wan22::cuda::t5 {

using detail::aligned16;
using detail::block_sum;
using detail::grid_for;
using detail::require;
using detail::warp_sum;

namespace {

__device__ __forceinline__ float gelu_tanh(float v) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
}

// ---- vector loads/stores of V consecutive elements (V = 4: 16-byte fp32 / 8-byte bf16) ----
template <int V>
__device__ __forceinline__ void load_f(const float* p, float* f) {
  if constexpr (V == 4) {
    const float4 t = *reinterpret_cast<const float4*>(p);
    f[0] = t.x, f[1] = t.y, f[2] = t.z, f[3] = t.w;
  } else {
    f[0] = *p;
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
template <int V>
__device__ __forceinline__ void load_bf(const bf16* p, float* f) {
  if constexpr (V == 4) {
    const uint2 u = *reinterpret_cast<const uint2*>(p);
    const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.x));
    const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.y));
    f[0] = a.x, f[1] = a.y, f[2] = b.x, f[3] = b.y;
  } else {
    f[0] = __bfloat162float(*p);
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
__device__ __forceinline__ void store_out(float* p, const float* f) {
  store_f<V>(p, f);
}
template <int V>
__device__ __forceinline__ void store_out(bf16* p, const float* f) {
  store_bf<V>(p, f);
}

__global__ void embed_kernel(const int32_t* __restrict__ ids, const bf16* __restrict__ table, float* __restrict__ x,
                             int64_t rows, int64_t dim) {
  const int64_t n = rows * dim;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / dim, c = i - r * dim;
    x[i] = __bfloat162float(table[static_cast<int64_t>(ids[r]) * dim + c]);
  }
}

// One block per row. First pass: x (+= y, stored back), sum of squares; second pass re-reads the
// thread's own x elements (L1/L2) and writes w * x * rsqrt(mean + eps).
template <int V, class Out>
__global__ void rmsnorm_kernel(float* x, const bf16* __restrict__ y, const float* __restrict__ w, Out* __restrict__ out,
                               int64_t dim, float eps) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  float* xr = x + row * dim;
  const bf16* yr = y ? y + row * dim : nullptr;
  Out* orow = out + row * dim;
  float ss = 0.0f;
  for (int64_t c = static_cast<int64_t>(threadIdx.x) * V; c < dim; c += static_cast<int64_t>(blockDim.x) * V) {
    float f[V];
    load_f<V>(xr + c, f);
    if (yr) {
      float g[V];
      load_bf<V>(yr + c, g);
#pragma unroll
      for (int i = 0; i < V; ++i) f[i] += g[i];
      store_f<V>(xr + c, f);
    }
#pragma unroll
    for (int i = 0; i < V; ++i) ss += f[i] * f[i];
  }
  const float total = block_sum(ss, scratch);
  const float inv = rsqrtf(total / static_cast<float>(dim) + eps);
  for (int64_t c = static_cast<int64_t>(threadIdx.x) * V; c < dim; c += static_cast<int64_t>(blockDim.x) * V) {
    float f[V], g[V];
    load_f<V>(xr + c, f);
    load_f<V>(w + c, g);
#pragma unroll
    for (int i = 0; i < V; ++i) f[i] = g[i] * (f[i] * inv);
    store_out<V>(orow + c, f);
  }
}

template <class Out>
void launch_rmsnorm(const char* op, float* x, const bf16* y, const float* w, Out* out, int64_t rows, int64_t dim,
                    float eps, cudaStream_t stream) {
  require(x && w && out && rows >= 0 && dim > 0, op, "null pointer or bad size");
  require(rows <= 0x7fffffff, op, "too many rows");
  if (rows == 0) return;
  const bool vec = dim % 4 == 0 && aligned16(x) && aligned16(w) && (!y || (reinterpret_cast<uintptr_t>(y) & 7u) == 0) &&
                   (sizeof(Out) == 4 ? aligned16(out) : (reinterpret_cast<uintptr_t>(out) & 7u) == 0);
  const int64_t per_thread_units = vec ? dim / 4 : dim;
  int threads = 32;
  while (threads < 256 && threads < per_thread_units) threads *= 2;
  const unsigned grid = static_cast<unsigned>(rows);
  if (vec) {
    rmsnorm_kernel<4, Out><<<grid, threads, 0, stream>>>(x, y, w, out, dim, eps);
  } else {
    rmsnorm_kernel<1, Out><<<grid, threads, 0, stream>>>(x, y, w, out, dim, eps);
  }
  WAN22_CUDA_CHECK_LAUNCH();
}

// Two output columns per thread step when ffn is even (bf16x2 loads), else one.
template <bool kPair>
__global__ void gated_gelu_kernel(const bf16* __restrict__ h, bf16* __restrict__ out, int64_t rows, int64_t ffn) {
  const int64_t per_row = kPair ? ffn / 2 : ffn;
  const int64_t n = rows * per_row;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / per_row, c = (i - r * per_row) * (kPair ? 2 : 1);
    const bf16* hr = h + r * 2 * ffn;
    if constexpr (kPair) {
      const float2 g = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(hr + c));
      const float2 u = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(hr + ffn + c));
      *reinterpret_cast<__nv_bfloat162*>(out + r * ffn + c) =
          __floats2bfloat162_rn(gelu_tanh(g.x) * u.x, gelu_tanh(g.y) * u.y);
    } else {
      out[r * ffn + c] = __float2bfloat16_rn(gelu_tanh(__bfloat162float(hr[c])) * __bfloat162float(hr[ffn + c]));
    }
  }
}

// One warp per score row (b, h, i). kCache: the row (<= 32 * kCache keys) stays in registers;
// otherwise three passes over global memory (L1-resident rows).
constexpr int kCacheMax = 16;  // 512 keys

__device__ __forceinline__ float biased(const float* sr, const int32_t* bucket, const float* table,
                                        const uint8_t* keep, int64_t heads, int64_t h, int64_t i, int64_t lq,
                                        int64_t j) {
  if (keep && keep[j] == 0) return sr[j] + (-FLT_MAX);
  float v = sr[j];
  if (table) v += table[static_cast<int64_t>(bucket[j - i + lq - 1]) * heads + h];
  return v;
}

template <bool kCache>
__global__ void bias_mask_softmax_kernel(const float* __restrict__ s, const int32_t* __restrict__ bucket,
                                         const float* __restrict__ table, const uint8_t* __restrict__ keep,
                                         bf16* __restrict__ p, int64_t batch, int64_t heads, int64_t lq, int64_t lk) {
  const int lane = threadIdx.x & 31;
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= batch * heads * lq) return;
  const int64_t i = row % lq;
  const int64_t h = (row / lq) % heads;
  const int64_t b = row / (lq * heads);
  const float* sr = s + row * lk;
  bf16* pr = p + row * lk;
  const uint8_t* kb = keep ? keep + b * lk : nullptr;
  if constexpr (kCache) {
    float v[kCacheMax];
    float mx = -FLT_MAX;
#pragma unroll
    for (int t = 0; t < kCacheMax; ++t) {
      const int64_t j = lane + 32 * t;
      v[t] = j < lk ? biased(sr, bucket, table, kb, heads, h, i, lq, j) : -FLT_MAX;
      mx = fmaxf(mx, v[t]);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float sum = 0.0f;
#pragma unroll
    for (int t = 0; t < kCacheMax; ++t) {
      const int64_t j = lane + 32 * t;
      v[t] = j < lk ? __expf(v[t] - mx) : 0.0f;
      sum += v[t];
    }
    const float inv = 1.0f / warp_sum(sum);
#pragma unroll
    for (int t = 0; t < kCacheMax; ++t) {
      const int64_t j = lane + 32 * t;
      if (j < lk) pr[j] = __float2bfloat16_rn(v[t] * inv);
    }
  } else {
    float mx = -FLT_MAX;
    for (int64_t j = lane; j < lk; j += 32) mx = fmaxf(mx, biased(sr, bucket, table, kb, heads, h, i, lq, j));
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float sum = 0.0f;
    for (int64_t j = lane; j < lk; j += 32) sum += __expf(biased(sr, bucket, table, kb, heads, h, i, lq, j) - mx);
    const float inv = 1.0f / warp_sum(sum);
    for (int64_t j = lane; j < lk; j += 32) {
      pr[j] = __float2bfloat16_rn(__expf(biased(sr, bucket, table, kb, heads, h, i, lq, j) - mx) * inv);
    }
  }
}

__global__ void rows_to_bf16_padded_kernel(const float* __restrict__ x, int64_t rows, int64_t dim,
                                           bf16* __restrict__ out, int64_t out_rows) {
  const int64_t n = out_rows * dim;
  const int64_t valid = rows * dim;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = __float2bfloat16_rn(i < valid ? x[i] : 0.0f);
  }
}

}  // namespace

void embed_rows(const int32_t* ids, const bf16* table, float* x, int64_t rows, int64_t dim, cudaStream_t stream) {
  require(ids && table && x && rows >= 0 && dim > 0, "t5::embed_rows", "null pointer or bad size");
  if (rows == 0) return;
  embed_kernel<<<grid_for(rows * dim, 256), 256, 0, stream>>>(ids, table, x, rows, dim);
  WAN22_CUDA_CHECK_LAUNCH();
}

void rmsnorm_bf16(float* x, const bf16* y, const float* w, bf16* out, int64_t rows, int64_t dim, float eps,
                  cudaStream_t stream) {
  launch_rmsnorm("t5::rmsnorm_bf16", x, y, w, out, rows, dim, eps, stream);
}

void rmsnorm_f32(float* x, const bf16* y, const float* w, float* out, int64_t rows, int64_t dim, float eps,
                 cudaStream_t stream) {
  launch_rmsnorm("t5::rmsnorm_f32", x, y, w, out, rows, dim, eps, stream);
}

void gated_gelu(const bf16* h, bf16* out, int64_t rows, int64_t ffn, cudaStream_t stream) {
  require(h && out && rows >= 0 && ffn > 0, "t5::gated_gelu", "null pointer or bad size");
  if (rows == 0) return;
  const bool pair = ffn % 2 == 0 && (reinterpret_cast<uintptr_t>(h) & 3u) == 0 &&
                    (reinterpret_cast<uintptr_t>(out) & 3u) == 0;
  if (pair) {
    gated_gelu_kernel<true><<<grid_for(rows * ffn / 2, 256), 256, 0, stream>>>(h, out, rows, ffn);
  } else {
    gated_gelu_kernel<false><<<grid_for(rows * ffn, 256), 256, 0, stream>>>(h, out, rows, ffn);
  }
  WAN22_CUDA_CHECK_LAUNCH();
}

void bias_mask_softmax(const float* s, const int32_t* bucket, const float* table, const uint8_t* keep, bf16* p,
                       int64_t batch, int64_t heads, int64_t lq, int64_t lk, cudaStream_t stream) {
  require(s && p && batch >= 0 && heads > 0 && lq >= 0 && lk > 0, "t5::bias_mask_softmax",
          "null pointer or bad size");
  require(table == nullptr || bucket != nullptr, "t5::bias_mask_softmax", "a position table needs the buckets");
  const int64_t rows = batch * heads * lq;
  if (rows == 0) return;
  constexpr int kThreads = 256;  // 8 rows per block
  const int64_t blocks = (rows + kThreads / 32 - 1) / (kThreads / 32);
  require(blocks <= 0x7fffffff, "t5::bias_mask_softmax", "too many rows");
  if (lk <= 32 * kCacheMax) {
    bias_mask_softmax_kernel<true><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(s, bucket, table, keep, p,
                                                                                           batch, heads, lq, lk);
  } else {
    bias_mask_softmax_kernel<false><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(s, bucket, table, keep, p,
                                                                                            batch, heads, lq, lk);
  }
  WAN22_CUDA_CHECK_LAUNCH();
}

void rows_to_bf16_padded(const float* x, int64_t rows, int64_t dim, bf16* out, int64_t out_rows, cudaStream_t stream) {
  require(out && dim > 0 && rows >= 0 && rows <= out_rows && (x || rows == 0), "t5::rows_to_bf16_padded",
          "null pointer or bad size (rows " + std::to_string(rows) + ", out_rows " + std::to_string(out_rows) + ")");
  if (out_rows == 0) return;
  rows_to_bf16_padded_kernel<<<grid_for(out_rows * dim, 256), 256, 0, stream>>>(x, rows, dim, out, out_rows);
  WAN22_CUDA_CHECK_LAUNCH();
}

}  // namespace wan22::cuda::t5
