// Elementwise kernels, the gated residual add, the small fp32 linear and the DiT layout helpers.
#include "backends/cuda/kernel_util.cuh"
#include "backends/cuda/kernels.h"

namespace wan22::cuda {

using detail::aligned16;
using detail::Bf16x8;
using detail::grid_for;
using detail::require;

namespace {

__device__ __forceinline__ float silu(float v) { return v / (1.0f + __expf(-v)); }
__device__ __forceinline__ float gelu_tanh(float v) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
}

enum class Op { kGelu, kSilu, kAdd, kMul, kCopy };

template <Op op>
__device__ __forceinline__ float apply(float a, float b) {
  if constexpr (op == Op::kGelu) return gelu_tanh(a);
  if constexpr (op == Op::kSilu) return silu(a);
  if constexpr (op == Op::kAdd) return a + b;
  if constexpr (op == Op::kMul) return a * b;
  return a;
}

__device__ __forceinline__ float ld(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const bf16* p, int64_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void st(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(bf16* p, int64_t i, float v) { p[i] = __float2bfloat16_rn(v); }

// 8 elements per thread-step when vec (16-byte bf16 / 2x16-byte fp32 accesses), else 1.
template <Op op, class TI, class TO, bool kVec>
__global__ void ew_kernel(const TI* __restrict__ a, const TI* __restrict__ b, TO* __restrict__ y, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t start = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if constexpr (kVec) {
    const int64_t nv = n / 8;
    for (int64_t v = start; v < nv; v += stride) {
      float fa[8], fb[8] = {0, 0, 0, 0, 0, 0, 0, 0}, fy[8];
      if constexpr (sizeof(TI) == 2) {
        detail::bf16x8_to_f32(reinterpret_cast<const Bf16x8*>(a)[v], fa);
        if (b) detail::bf16x8_to_f32(reinterpret_cast<const Bf16x8*>(b)[v], fb);
      } else {
        const float4* a4 = reinterpret_cast<const float4*>(a) + 2 * v;
        float4 t0 = a4[0], t1 = a4[1];
        fa[0] = t0.x, fa[1] = t0.y, fa[2] = t0.z, fa[3] = t0.w, fa[4] = t1.x, fa[5] = t1.y, fa[6] = t1.z, fa[7] = t1.w;
        if (b) {
          const float4* b4 = reinterpret_cast<const float4*>(b) + 2 * v;
          t0 = b4[0], t1 = b4[1];
          fb[0] = t0.x, fb[1] = t0.y, fb[2] = t0.z, fb[3] = t0.w, fb[4] = t1.x, fb[5] = t1.y, fb[6] = t1.z,
          fb[7] = t1.w;
        }
      }
#pragma unroll
      for (int e = 0; e < 8; ++e) fy[e] = apply<op>(fa[e], fb[e]);
      if constexpr (sizeof(TO) == 2) {
        reinterpret_cast<Bf16x8*>(y)[v] = detail::f32_to_bf16x8(fy);
      } else {
        float4* y4 = reinterpret_cast<float4*>(y) + 2 * v;
        y4[0] = make_float4(fy[0], fy[1], fy[2], fy[3]);
        y4[1] = make_float4(fy[4], fy[5], fy[6], fy[7]);
      }
    }
    // tail
    for (int64_t i = nv * 8 + start; i < n; i += stride) st(y, i, apply<op>(ld(a, i), b ? ld(b, i) : 0.0f));
  } else {
    for (int64_t i = start; i < n; i += stride) st(y, i, apply<op>(ld(a, i), b ? ld(b, i) : 0.0f));
  }
}

template <Op op, class TI, class TO>
void launch_ew(const char* name, const TI* a, const TI* b, TO* y, int64_t n, cudaStream_t stream) {
  require(n >= 0, name, "negative element count");
  require(a != nullptr && y != nullptr, name, "null pointer");
  if (n == 0) return;
  const bool vec = aligned16(a) && aligned16(y) && (b == nullptr || aligned16(b));
  constexpr int threads = 256;
  if (vec) {
    ew_kernel<op, TI, TO, true><<<grid_for(n / 8 + 1, threads, 132 * 16), threads, 0, stream>>>(a, b, y, n);
  } else {
    ew_kernel<op, TI, TO, false><<<grid_for(n, threads, 132 * 16), threads, 0, stream>>>(a, b, y, n);
  }
  WAN22_CUDA_CHECK_LAUNCH();
}

// One block per row; x fp32 += gate * y bf16.
template <bool kVec>
__global__ void gated_residual_kernel(float* __restrict__ x, const bf16* __restrict__ y, int64_t ld_y, int64_t dim,
                                      TokenVec gate) {
  const int64_t row = blockIdx.x;
  float* xr = x + row * dim;
  const bf16* yr = y + row * ld_y;
  const float* g = gate.a ? gate.at(row) : nullptr;
  if constexpr (kVec) {
    for (int64_t v = threadIdx.x; v < dim / 8; v += blockDim.x) {
      float fy[8];
      detail::bf16x8_to_f32(reinterpret_cast<const Bf16x8*>(yr)[v], fy);
      float4* x4 = reinterpret_cast<float4*>(xr) + 2 * v;
      float4 a = x4[0], b = x4[1];
      if (g) {
        const float4* g4 = reinterpret_cast<const float4*>(g) + 2 * v;
        float4 ga = g4[0], gb = g4[1];
        a.x += ga.x * fy[0], a.y += ga.y * fy[1], a.z += ga.z * fy[2], a.w += ga.w * fy[3];
        b.x += gb.x * fy[4], b.y += gb.y * fy[5], b.z += gb.z * fy[6], b.w += gb.w * fy[7];
      } else {
        a.x += fy[0], a.y += fy[1], a.z += fy[2], a.w += fy[3];
        b.x += fy[4], b.y += fy[5], b.z += fy[6], b.w += fy[7];
      }
      x4[0] = a, x4[1] = b;
    }
  } else {
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
      const float v = __bfloat162float(yr[i]);
      xr[i] += g ? g[i] * v : v;
    }
  }
}

// Warp per output column n; all rows (<= 8) at once.
template <bool kVec>
__global__ void small_linear_kernel(const float* __restrict__ x, const bf16* __restrict__ w,
                                    const float* __restrict__ bias, float* __restrict__ y, int rows, int64_t n,
                                    int64_t k, bool silu_in, bool silu_out) {
  const int lane = threadIdx.x & 31;
  const int64_t col = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (col >= n) return;
  const bf16* wr = w + col * k;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if constexpr (kVec) {
    for (int64_t v = lane; v < k / 8; v += 32) {
      float fw[8];
      detail::bf16x8_to_f32(reinterpret_cast<const Bf16x8*>(wr)[v], fw);
      for (int r = 0; r < rows; ++r) {
        const float* xr = x + r * k + v * 8;
#pragma unroll
        for (int e = 0; e < 8; ++e) {
          const float xv = silu_in ? silu(xr[e]) : xr[e];
          acc[r] += xv * fw[e];
        }
      }
    }
  } else {
    for (int64_t i = lane; i < k; i += 32) {
      const float fw = __bfloat162float(wr[i]);
      for (int r = 0; r < rows; ++r) {
        const float xv = silu_in ? silu(x[r * k + i]) : x[r * k + i];
        acc[r] += xv * fw;
      }
    }
  }
  for (int r = 0; r < rows; ++r) {
    float s = detail::warp_sum(acc[r]);
    if (lane == 0) {
      if (bias) s += bias[col];
      y[r * n + col] = silu_out ? silu(s) : s;
    }
  }
}

__global__ void patchify_kernel(const float* __restrict__ lat, bf16* __restrict__ out, int64_t C, int64_t F,
                                int64_t H, int64_t W, int ph, int pw) {
  const int64_t gh = H / ph, gw = W / pw;
  const int64_t cols = C * ph * pw;
  const int64_t total = F * gh * gw * cols;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t col = idx % cols, row = idx / cols;
    const int64_t c = col / (ph * pw), a = (col / pw) % ph, b = col % pw;
    const int64_t f = row / (gh * gw), i = (row / gw) % gh, j = row % gw;
    out[idx] = __float2bfloat16_rn(lat[((c * F + f) * H + i * ph + a) * W + j * pw + b]);
  }
}

__global__ void unpatchify_kernel(const bf16* __restrict__ rows, int64_t ld, float* __restrict__ out, int64_t C,
                                  int64_t F, int64_t gh, int64_t gw, int ph, int pw) {
  const int64_t H = gh * ph, W = gw * pw;
  const int64_t total = C * F * H * W;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t x = idx % W, y = (idx / W) % H, f = (idx / (W * H)) % F, c = idx / (W * H * F);
    const int64_t i = y / ph, q = y % ph, j = x / pw, r = x % pw;
    const int64_t row = (f * gh + i) * gw + j;
    const int64_t col = (q * pw + r) * C + c;
    out[idx] = __bfloat162float(rows[row * ld + col]);
  }
}

__global__ void add_rowvec_kernel(const float* __restrict__ x, const float* __restrict__ v, float* __restrict__ y,
                                  int64_t rows, int64_t dim) {
  const int64_t total = rows * dim;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[idx] = x[idx] + v[idx % dim];
  }
}

__device__ __forceinline__ float hash_uniform(uint64_t seed, uint64_t i) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull + 0x94D049BB133111EBull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
}

template <class T>
__global__ void fill_uniform_kernel(T* p, int64_t n, uint64_t seed, float lo, float hi) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    st(p, i, lo + (hi - lo) * hash_uniform(seed, static_cast<uint64_t>(i)));
  }
}

}  // namespace

void fill_uniform_bf16(bf16* p, int64_t n, uint64_t seed, float lo, float hi, cudaStream_t stream) {
  require(n >= 0 && (n == 0 || p != nullptr), "cuda::fill_uniform_bf16", "bad buffer");
  if (n == 0) return;
  fill_uniform_kernel<<<grid_for(n, 256, 132 * 64), 256, 0, stream>>>(p, n, seed, lo, hi);
  WAN22_CUDA_CHECK_LAUNCH();
}

void fill_uniform_f32(float* p, int64_t n, uint64_t seed, float lo, float hi, cudaStream_t stream) {
  require(n >= 0 && (n == 0 || p != nullptr), "cuda::fill_uniform_f32", "bad buffer");
  if (n == 0) return;
  fill_uniform_kernel<<<grid_for(n, 256, 132 * 64), 256, 0, stream>>>(p, n, seed, lo, hi);
  WAN22_CUDA_CHECK_LAUNCH();
}

void gelu_tanh_bf16(const bf16* x, bf16* y, int64_t n, cudaStream_t s) {
  launch_ew<Op::kGelu>("cuda::gelu_tanh_bf16", x, static_cast<const bf16*>(nullptr), y, n, s);
}
void silu_f32(const float* x, float* y, int64_t n, cudaStream_t s) {
  launch_ew<Op::kSilu>("cuda::silu_f32", x, static_cast<const float*>(nullptr), y, n, s);
}
void silu_bf16(const bf16* x, bf16* y, int64_t n, cudaStream_t s) {
  launch_ew<Op::kSilu>("cuda::silu_bf16", x, static_cast<const bf16*>(nullptr), y, n, s);
}
void add_f32(const float* a, const float* b, float* y, int64_t n, cudaStream_t s) {
  require(b != nullptr, "cuda::add_f32", "null operand");
  launch_ew<Op::kAdd>("cuda::add_f32", a, b, y, n, s);
}
void mul_f32(const float* a, const float* b, float* y, int64_t n, cudaStream_t s) {
  require(b != nullptr, "cuda::mul_f32", "null operand");
  launch_ew<Op::kMul>("cuda::mul_f32", a, b, y, n, s);
}
void add_bf16(const bf16* a, const bf16* b, bf16* y, int64_t n, cudaStream_t s) {
  require(b != nullptr, "cuda::add_bf16", "null operand");
  launch_ew<Op::kAdd>("cuda::add_bf16", a, b, y, n, s);
}
void mul_bf16(const bf16* a, const bf16* b, bf16* y, int64_t n, cudaStream_t s) {
  require(b != nullptr, "cuda::mul_bf16", "null operand");
  launch_ew<Op::kMul>("cuda::mul_bf16", a, b, y, n, s);
}
void f32_to_bf16(const float* x, bf16* y, int64_t n, cudaStream_t s) {
  launch_ew<Op::kCopy>("cuda::f32_to_bf16", x, static_cast<const float*>(nullptr), y, n, s);
}
void bf16_to_f32(const bf16* x, float* y, int64_t n, cudaStream_t s) {
  launch_ew<Op::kCopy>("cuda::bf16_to_f32", x, static_cast<const bf16*>(nullptr), y, n, s);
}

void gated_residual_add(float* x, const bf16* y, int64_t ld_y, int64_t rows, int64_t dim, TokenVec gate,
                        cudaStream_t stream) {
  constexpr const char* kOp = "cuda::gated_residual_add";
  require(rows >= 0 && dim > 0 && ld_y >= dim, kOp, "bad shape");
  require(rows <= 0x7fffffff, kOp, "too many rows");
  if (rows == 0) return;
  const bool vec = dim % 8 == 0 && ld_y % 8 == 0 && aligned16(x) && aligned16(y) &&
                   (gate.a == nullptr || (aligned16(gate.a) && aligned16(gate.b)));
  const int threads = vec ? (dim / 8 >= 256 ? 256 : static_cast<int>(((dim / 8 + 31) / 32) * 32)) : 256;
  if (vec) {
    gated_residual_kernel<true><<<static_cast<unsigned>(rows), threads, 0, stream>>>(x, y, ld_y, dim, gate);
  } else {
    gated_residual_kernel<false><<<static_cast<unsigned>(rows), threads, 0, stream>>>(x, y, ld_y, dim, gate);
  }
  WAN22_CUDA_CHECK_LAUNCH();
}

void small_linear_f32(const float* x, const bf16* w, const float* bias, float* y, int rows, int64_t n, int64_t k,
                      bool silu_in, bool silu_out, cudaStream_t stream) {
  constexpr const char* kOp = "cuda::small_linear_f32";
  require(rows >= 1 && rows <= 8, kOp, "rows must be in [1, 8], got " + std::to_string(rows));
  require(n > 0 && k > 0, kOp, "bad shape");
  const bool vec = k % 8 == 0 && aligned16(w);
  constexpr int threads = 256;  // 8 columns per block
  const unsigned blocks = static_cast<unsigned>((n * 32 + threads - 1) / threads);
  if (vec) {
    small_linear_kernel<true><<<blocks, threads, 0, stream>>>(x, w, bias, y, rows, n, k, silu_in, silu_out);
  } else {
    small_linear_kernel<false><<<blocks, threads, 0, stream>>>(x, w, bias, y, rows, n, k, silu_in, silu_out);
  }
  WAN22_CUDA_CHECK_LAUNCH();
}

void patchify_bf16(const float* latent, bf16* rows, int64_t C, int64_t F, int64_t H, int64_t W, int ph, int pw,
                   cudaStream_t stream) {
  constexpr const char* kOp = "cuda::patchify_bf16";
  require(ph > 0 && pw > 0 && H % ph == 0 && W % pw == 0, kOp,
          "latent H x W " + std::to_string(H) + "x" + std::to_string(W) + " not divisible by the patch");
  const int64_t total = C * F * H * W;
  if (total == 0) return;
  patchify_kernel<<<grid_for(total, 256, 132 * 32), 256, 0, stream>>>(latent, rows, C, F, H, W, ph, pw);
  WAN22_CUDA_CHECK_LAUNCH();
}

void unpatchify_f32(const bf16* rows, int64_t ld, float* video, int64_t C, int64_t F, int64_t gh, int64_t gw, int ph,
                    int pw, cudaStream_t stream) {
  constexpr const char* kOp = "cuda::unpatchify_f32";
  require(ph > 0 && pw > 0 && ld >= C * ph * pw, kOp, "bad layout");
  const int64_t total = C * F * gh * ph * gw * pw;
  if (total == 0) return;
  unpatchify_kernel<<<grid_for(total, 256, 132 * 32), 256, 0, stream>>>(rows, ld, video, C, F, gh, gw, ph, pw);
  WAN22_CUDA_CHECK_LAUNCH();
}

void add_rowvec_f32(const float* x, const float* v, float* y, int64_t rows, int64_t dim, cudaStream_t stream) {
  require(rows >= 0 && dim > 0, "cuda::add_rowvec_f32", "bad shape");
  if (rows == 0) return;
  add_rowvec_kernel<<<grid_for(rows * dim, 256, 132 * 32), 256, 0, stream>>>(x, v, y, rows, dim);
  WAN22_CUDA_CHECK_LAUNCH();
}

}  // namespace wan22::cuda
