// Small device kernels of the CUDA engine (pipeline_cuda.cpp).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace wan22::cuda {

// x[i] = min(max(x[i], lo), hi) for i < n, in place (NaN stays NaN, like ops::clamp's std::min/max
// order: max(NaN, lo) = lo in CUDA's fmaxf, so NaN is passed through explicitly).
void clamp_f32_inplace(float* x, int64_t n, float lo, float hi, cudaStream_t stream);

}  // namespace wan22::cuda
