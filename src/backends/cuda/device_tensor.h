// Shorthands of the CUDA backend's C++ files: the device (GPU 0), a tensor's data as a bf16 or f32
// pointer, and uninitialised device tensors.
#pragma once
#include "backends/cuda/kernels.h"
#include "core/tensor.h"

namespace wan22::cuda {

inline Device gpu() { return Device::cuda(0); }
inline bf16* bp(const Tensor& t) { return static_cast<bf16*>(t.raw_data()); }
inline float* fp(const Tensor& t) { return static_cast<float*>(t.raw_data()); }
inline Tensor dev_bf16(const Shape& s) { return Tensor::empty(s, DType::kBF16, gpu()); }
inline Tensor dev_f32(const Shape& s) { return Tensor::empty(s, DType::kF32, gpu()); }

}  // namespace wan22::cuda
