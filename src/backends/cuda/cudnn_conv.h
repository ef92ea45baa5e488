// cuDNN convolution forward for the VAE (channels-last 3-D tensors, N = 1, bf16 with fp32
// accumulation on tensor cores, or f32 with plain FMA math), through cuDNN's convolution API.
// libcudnn is loaded at run time (dlopen, as cudnn_sdpa.cpp does), so the build needs only the
// header and a machine without cuDNN still runs (available() says why not).
//
// A plan (descriptors + algorithm) is cached per shape. With autotuning on (the default) the first
// call of a shape times the heuristic's best few algorithms on the call's own operands (this
// synchronises the stream once per shape) and keeps the fastest. The workspace comes from the
// caching allocator (it counts in its peak) and is kept, grown on demand.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "backends/cuda/conv3d_cuda.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace wan22::cuda {

class CudnnConv {
 public:
  CudnnConv();
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  bool available() const { return handle_ != nullptr; }
  const std::string& reason() const { return reason_; }
  int version() const { return version_; }
  const std::string& library() const { return library_; }

  void set_autotune(bool on) { autotune_ = on; }
  void set_workspace_limit(size_t bytes) { ws_limit_ = bytes; }
  static constexpr int kCandidates = 4;

  // y = conv(x, w) + beta * y. dt: kBF16 or kF32. Throws Error(kUnsupported) when cuDNN has no
  // algorithm for the shape, Error(kInternal) on a cuDNN failure.
  void forward(const ConvGeom& g, DType dt, const void* x, const void* w, void* y,
               cudaStream_t stream, float beta = 0.0f);

  // One line per cached plan: shape, algorithm, workspace, timed candidates, calls since the last
  // reset_calls() and their estimated time (calls x the autotuned time).
  std::string report() const;
  // Sum over the plans of calls x autotuned time (0 for plans that were not timed).
  double estimated_seconds() const;
  void reset_calls();

 private:
  struct Plan;
  Plan& plan_for(const ConvGeom& g, DType dt, const void* x, const void* w, void* y,
                 cudaStream_t stream);
  void run(const Plan& p, const void* x, const void* w, void* y, cudaStream_t stream, int algo,
           int math, float beta = 0.0f);

  void* handle_ = nullptr;  // cudnnHandle_t
  std::string reason_, library_;
  int version_ = 0;
  bool autotune_ = true;
  size_t ws_limit_ = 256u << 20;
  std::map<std::string, std::unique_ptr<Plan>> plans_;
  Tensor ws_;  // workspace, grown on demand (counts in the caching allocator's statistics)
};

}  // namespace wan22::cuda
