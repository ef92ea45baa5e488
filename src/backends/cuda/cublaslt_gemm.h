// cuBLASLt GEMMs in bf16 with fp32 accumulation and fused epilogues (bias, GELU).
// Row-major convention of the engine: Y[M,N] = X[M,K] @ W[N,K]^T (+ bias[N]) (PyTorch Linear).
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>

namespace wan22::cuda {

enum class Epilogue { kNone, kBias, kBiasGelu };

class LtGemm {
 public:
  LtGemm();
  ~LtGemm();
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  // x, w, y bf16 device pointers; bias bf16 [N] or nullptr. Runs on `stream`.
  // The first call of a shape asks the heuristic for up to kCandidates algorithms and, when
  // autotuning is on (the default), times each on the call's own operands (this synchronises
  // `stream` once per shape) and keeps the fastest.
  void linear_bf16(const void* x, const void* w, const void* bias, void* y, int64_t m, int64_t n,
                   int64_t k, Epilogue ep, cudaStream_t stream);

  void set_autotune(bool on) { autotune_ = on; }
  static constexpr int kCandidates = 8;

 private:
  bool autotune_ = true;
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 64u << 20;
  struct Plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  std::map<std::tuple<int64_t, int64_t, int64_t, int>, Plan> plans_;
  std::mutex mu_;
};

}  // namespace wan22::cuda
