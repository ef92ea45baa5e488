#include "backends/cuda/kernel_util.cuh"
#include "backends/cuda/pipeline_cuda_kernels.h"

namespace wan22::cuda {

namespace {

__device__ __forceinline__ float clamp1(float v, float lo, float hi) {
  return v != v ? v : fminf(fmaxf(v, lo), hi);  // NaN passes through, as ops::clamp
}

// vec: x is 16-byte aligned (float4 accesses for the first n / 4 quadruples).
__global__ void clamp_kernel(float* __restrict__ x, int64_t n, float lo, float hi, bool vec) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t start = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t nv = vec ? n / 4 : 0;
  float4* x4 = reinterpret_cast<float4*>(x);
  for (int64_t i = start; i < nv; i += stride) {
    float4 v = x4[i];
    v.x = clamp1(v.x, lo, hi), v.y = clamp1(v.y, lo, hi), v.z = clamp1(v.z, lo, hi), v.w = clamp1(v.w, lo, hi);
    x4[i] = v;
  }
  for (int64_t i = nv * 4 + start; i < n; i += stride) x[i] = clamp1(x[i], lo, hi);
}

}  // namespace

void clamp_f32_inplace(float* x, int64_t n, float lo, float hi, cudaStream_t stream) {
  if (n <= 0) return;
  constexpr int kThreads = 256;
  clamp_kernel<<<detail::grid_for((n + 3) / 4, kThreads), kThreads, 0, stream>>>(x, n, lo, hi, detail::aligned16(x));
  WAN22_CUDA_CHECK_LAUNCH();
}

}  // namespace wan22::cuda
