// int8 weight-only quantisation kernels and the dequantise-then-bf16-GEMM linear layer (dit_int8.h).
#include <algorithm>
#include <string>

#include "backends/cuda/dit_int8.h"
#include "backends/cuda/kernel_util.cuh"

namespace wan22::cuda {

using detail::require;

namespace {

constexpr float kInt8Max = 127.0f;

__device__ __forceinline__ int8_t to_int8(float f) {
  const int v = __float2int_rn(f);
  return static_cast<int8_t>(max(-127, min(127, v)));
}

// One block per row (blockDim a multiple of 32). Scalar loads: quantisation runs once at load time.
__global__ void quantize_rows_int8_kernel(const bf16* __restrict__ x, int64_t cols, int8_t* __restrict__ q,
                                          float* __restrict__ scale) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const bf16* xr = x + row * cols;
  int8_t* qr = q + row * cols;
  float amax = 0.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) amax = fmaxf(amax, fabsf(__bfloat162float(xr[i])));
  amax = detail::block_max(amax, scratch);
  const float s = amax > 0.0f ? amax / kInt8Max : 1.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) qr[i] = to_int8(__bfloat162float(xr[i]) / s);
  if (threadIdx.x == 0) scale[row] = s;
}

// 16 elements per thread (cols % 16 == 0, q and out 16-byte aligned): one 16-byte load, two
// 16-byte stores; the 16 elements lie in one row.
__global__ void dequantize_rows_int8_vec_kernel(const int8_t* __restrict__ q, const float* __restrict__ scale,
                                                int64_t vectors, int64_t cols, bf16* __restrict__ out) {
  for (int64_t v = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; v < vectors;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t e0 = v * 16;
    const float s = scale[e0 / cols];
    const int4 raw = reinterpret_cast<const int4*>(q)[v];
    const int8_t* b = reinterpret_cast<const int8_t*>(&raw);
    float f[16];
#pragma unroll
    for (int e = 0; e < 16; ++e) f[e] = static_cast<float>(b[e]) * s;
    detail::Bf16x8* o = reinterpret_cast<detail::Bf16x8*>(out + e0);
    o[0] = detail::f32_to_bf16x8(f);
    o[1] = detail::f32_to_bf16x8(f + 8);
  }
}

__global__ void dequantize_rows_int8_kernel(const int8_t* __restrict__ q, const float* __restrict__ scale,
                                            int64_t rows, int64_t cols, bf16* __restrict__ out) {
  const int64_t total = rows * cols;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[idx] = __float2bfloat16_rn(static_cast<float>(q[idx]) * scale[idx / cols]);
  }
}

}  // namespace

void quantize_rows_int8(const bf16* x, int64_t rows, int64_t cols, int8_t* q, float* scale, cudaStream_t stream) {
  constexpr const char* kOp = "cuda::quantize_rows_int8";
  require(rows >= 0 && cols > 0, kOp, "bad shape rows=" + std::to_string(rows) + " cols=" + std::to_string(cols));
  require(rows <= 0x7fffffff, kOp, "too many rows");
  if (rows == 0) return;
  require(x && q && scale, kOp, "null pointer");
  const int threads = cols >= 2048 ? 256 : 128;
  quantize_rows_int8_kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(x, cols, q, scale);
  WAN22_CUDA_CHECK_LAUNCH();
}

void dequantize_rows_int8(const int8_t* q, const float* scale, int64_t rows, int64_t cols, bf16* out,
                          cudaStream_t stream) {
  constexpr const char* kOp = "cuda::dequantize_rows_int8";
  require(rows >= 0 && cols > 0, kOp, "bad shape rows=" + std::to_string(rows) + " cols=" + std::to_string(cols));
  if (rows == 0) return;
  require(q && scale && out, kOp, "null pointer");
  constexpr int kThreads = 256;
  if (cols % 16 == 0 && detail::aligned16(q) && detail::aligned16(out)) {
    const int64_t vectors = rows * cols / 16;
    dequantize_rows_int8_vec_kernel<<<detail::grid_for(vectors, kThreads), kThreads, 0, stream>>>(q, scale, vectors,
                                                                                                  cols, out);
  } else {
    dequantize_rows_int8_kernel<<<detail::grid_for(rows * cols, kThreads), kThreads, 0, stream>>>(q, scale, rows,
                                                                                                 cols, out);
  }
  WAN22_CUDA_CHECK_LAUNCH();
}

void Int8Linear::linear(LtGemm& gemm, const bf16* x, const int8_t* wq, const float* ws, const void* bias, bf16* y,
                        int64_t m, int64_t n, int64_t k, Epilogue ep, cudaStream_t stream) {
  const size_t need = static_cast<size_t>(n * k) * sizeof(bf16);
  if (!wdq_.defined() || wdq_.nbytes() < need) {
    // The old scratch goes back to the caching allocator; its last reader (an earlier GEMM on
    // this stream) is ordered before any later use of that memory on the same stream.
    wdq_ = Tensor::empty({n * k}, DType::kBF16, Device::cuda(0));
  }
  auto* w = static_cast<bf16*>(wdq_.raw_data());
  dequantize_rows_int8(wq, ws, n, k, w, stream);
  gemm.linear_bf16(x, w, bias, y, m, n, k, ep, stream);
}

}  // namespace wan22::cuda
