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

  // Autotuning (default on): the first call of a shape times every engine configuration that
  // finalises (on the call's own operands; synchronises `stream` once) and keeps the fastest.
  void set_autotune(bool on) { autotune_ = on; }
  // Which engine configuration the plan of the last run() uses (for reports).
  const std::string& last_plan_note() const { return last_note_; }

  // Same contract as flash_attention_fwd (bf16 [B, L, H, D] views with AttnLayout strides).
  // Builds (and caches) an execution plan per shape/stride set; throws Error when cuDNN has no
  // engine for it.
  void run(const FlashParams& p, cudaStream_t stream);

 private:
  struct Plan;
  Plan& plan_for(const FlashParams& p, cudaStream_t stream);
  void execute(void* plan, const FlashParams& p, float scale, void* workspace);
  void ensure_workspace(size_t bytes);
  void* handle_ = nullptr;  // cudnnHandle_t
  std::string reason_, library_;
  int version_ = 0;
  bool autotune_ = true;
  std::string last_note_;
  std::map<std::string, std::unique_ptr<Plan>> plans_;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
};

}  // namespace wan22::cuda
