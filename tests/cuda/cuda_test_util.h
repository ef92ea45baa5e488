// Helpers of the CUDA parity tests: GPU presence, host<->device copies in bf16/f32, error metric.
#pragma once
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <iostream>
#include <string>

#include "backends/cuda/device.h"
#include "backends/cuda/kernels.h"
#include "core/tensor.h"
#include "test_util.h"

namespace wan22::test {

inline bool have_gpu() {
  if (cuda::device_count() > 0) {
    cuda::init();
    return true;
  }
  return false;
}

#define REQUIRE_GPU() \
  if (!::wan22::test::have_gpu()) GTEST_SKIP() << "no GPU: " << ::wan22::cuda::unavailable_reason()

// Host f32 -> device tensor of dtype dt (bf16 rounds to nearest even).
inline Tensor to_dev(const Tensor& host, DType dt) {
  Tensor d = Tensor::empty(host.shape(), dt, Device::cuda(0));
  d.copy_from(host);
  return d;
}
// Device tensor -> host f32 (synchronises the device first).
inline Tensor to_host(const Tensor& dev) {
  if (cudaDeviceSynchronize() != cudaSuccess) throw Error(ErrorCode::kInternal, "device sync failed");
  return dev.to(Device::cpu()).to(DType::kF32);
}
// The host tensor rounded through bf16 (the values a bf16 device input holds).
inline Tensor bf16_round(const Tensor& host) { return host.to(DType::kBF16).to(DType::kF32); }

inline cuda::bf16* bf(const Tensor& t) { return static_cast<cuda::bf16*>(t.raw_data()); }
inline float* f32p(const Tensor& t) { return static_cast<float*>(t.raw_data()); }

// Relative error, printed so the lead can report it.
inline double report_err(const std::string& what, const Tensor& got, const Tensor& ref) {
  const double e = rel_err(got, ref);
  std::cout << "  [" << what << "] rel err " << e << "\n";
  return e;
}

constexpr double kBf16Tol = 1e-2;

}  // namespace wan22::test
