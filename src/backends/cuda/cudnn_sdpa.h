// cuDNN 9 fused flash attention (SDPA forward, inference) through the cuDNN backend graph API.
// libcudnn is loaded at run time (dlopen), so the build needs only the header and a machine without
// cuDNN still runs everything else: available() says whether it loaded and why not.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "backends/cuda/flash_attention.h"

namespace wan22::cuda {

class CudnnSdpa {
 public:
  CudnnSdpa();
  ~CudnnSdpa();
  CudnnSdpa(const CudnnSdpa&) = delete;
  CudnnSdpa& operator=(const CudnnSdpa&) = delete;

  // True when libcudnn (>= 9) loaded and a handle was created; otherwise reason() says why.
  bool available() const { return handle_ != nullptr; }
  const std::string& reason() const { return reason_; }
  std::string library() const { return library_; }
  int version() const { return version_; }

  // Same contract as flash_attention_fwd (bf16 [B, L, H, D] views with AttnLayout strides).
  // Builds (and caches) an execution plan per shape/stride set; throws Error when cuDNN has no
  // engine for it.
  void run(const FlashParams& p, cudaStream_t stream);

 private:
  struct Plan;
  Plan& plan_for(const FlashParams& p);
  void* handle_ = nullptr;  // cudnnHandle_t
  std::string reason_, library_;
  int version_ = 0;
  std::map<std::string, std::unique_ptr<Plan>> plans_;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
};

}  // namespace wan22::cuda
