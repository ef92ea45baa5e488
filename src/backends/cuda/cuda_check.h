// Status checks for CUDA runtime calls: every failure throws wan22::Error with file:line.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "core/status.h"

namespace wan22::cuda {
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line);
}

#define WAN22_CUDA_CHECK(expr)                                                       \
  do {                                                                               \
    cudaError_t wan22_err_ = (expr);                                                 \
    if (wan22_err_ != cudaSuccess) {                                                 \
      ::wan22::cuda::throw_cuda_error(wan22_err_, #expr, __FILE__, __LINE__);        \
    }                                                                                \
  } while (0)
