#include <string>

#include "backends/cuda/cublaslt_gemm.h"
#include "backends/cuda/cuda_check.h"
#include "core/status.h"

#define WAN22_CUBLAS_CHECK(expr)                                                              \
  do {                                                                                        \
    cublasStatus_t s_ = (expr);                                                               \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                        \
      throw ::wan22::Error(::wan22::ErrorCode::kInternal,                                     \
                           std::string("cuBLASLt error ") + cublasLtGetStatusName(s_) + " in " + \
                               #expr + " at " __FILE__ ":" + std::to_string(__LINE__));       \
    }                                                                                         \
  } while (0)

namespace wan22::cuda {

LtGemm::LtGemm() {
  WAN22_CUBLAS_CHECK(cublasLtCreate(&handle_));
  WAN22_CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes_));
}

LtGemm::~LtGemm() {
  for (auto& [k, p] : plans_) {
    cublasLtMatrixLayoutDestroy(p.a);
    cublasLtMatrixLayoutDestroy(p.b);
    cublasLtMatrixLayoutDestroy(p.c);
    cublasLtMatmulDescDestroy(p.op);
  }
  if (workspace_) cudaFree(workspace_);
  if (handle_) cublasLtDestroy(handle_);
}

void LtGemm::linear_bf16(const void* x, const void* w, const void* bias, void* y, int64_t m, int64_t n,
                         int64_t k, Epilogue ep, cudaStream_t stream) {
  // Column-major view: Y^T[N,M] = W[N,K] (as col-major K x N, transposed) * X^T (col-major K x M).
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_tuple(m, n, k, static_cast<int>(ep));
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    Plan p;
    WAN22_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    WAN22_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
    WAN22_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
    cublasLtEpilogue_t e = ep == Epilogue::kNone   ? CUBLASLT_EPILOGUE_DEFAULT
                           : ep == Epilogue::kBias ? CUBLASLT_EPILOGUE_BIAS
                                                   : CUBLASLT_EPILOGUE_GELU_BIAS;
    WAN22_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof(e)));
    if (ep != Epilogue::kNone) {
      cudaDataType_t bt = CUDA_R_16BF;
      WAN22_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt)));
    }
    WAN22_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.a, CUDA_R_16BF, k, n, k));  // W: K x N col-major
    WAN22_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, k, m, k));  // X^T: K x M
    WAN22_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.c, CUDA_R_16BF, n, m, n));  // Y^T: N x M
    cublasLtMatmulPreference_t pref;
    WAN22_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    WAN22_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_, sizeof(workspace_bytes_)));
    cublasLtMatmulHeuristicResult_t res[kCandidates] = {};
    int found = 0;
    WAN22_CUBLAS_CHECK(
        cublasLtMatmulAlgoGetHeuristic(handle_, p.op, p.a, p.b, p.c, p.c, pref, kCandidates, res, &found));
    cublasLtMatmulPreferenceDestroy(pref);
    if (found == 0) {
      throw Error(ErrorCode::kUnsupported, "cuBLASLt: no algorithm for bf16 GEMM " + std::to_string(m) + "x" +
                                               std::to_string(n) + "x" + std::to_string(k));
    }
    int best = 0;
    if (autotune_ && found > 1) {
      // Time every candidate on this call's operands: 1 warm-up + 3 timed runs each.
      if (ep != Epilogue::kNone) {
        WAN22_CUBLAS_CHECK(
            cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
      }
      cudaEvent_t e0, e1;
      WAN22_CUDA_CHECK(cudaEventCreate(&e0));
      WAN22_CUDA_CHECK(cudaEventCreate(&e1));
      const float one = 1.0f, zero = 0.0f;
      float best_ms = 0.0f;
      bool have = false;
      for (int i = 0; i < found; ++i) {
        if (res[i].state != CUBLAS_STATUS_SUCCESS || res[i].workspaceSize > workspace_bytes_) continue;
        if (cublasLtMatmul(handle_, p.op, &one, w, p.a, x, p.b, &zero, y, p.c, y, p.c, &res[i].algo, workspace_,
                           workspace_bytes_, stream) != CUBLAS_STATUS_SUCCESS) {
          continue;
        }
        WAN22_CUDA_CHECK(cudaEventRecord(e0, stream));
        for (int r = 0; r < 3; ++r) {
          WAN22_CUBLAS_CHECK(cublasLtMatmul(handle_, p.op, &one, w, p.a, x, p.b, &zero, y, p.c, y, p.c, &res[i].algo,
                                            workspace_, workspace_bytes_, stream));
        }
        WAN22_CUDA_CHECK(cudaEventRecord(e1, stream));
        WAN22_CUDA_CHECK(cudaEventSynchronize(e1));
        float ms = 0.0f;
        WAN22_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        if (!have || ms < best_ms) {
          best_ms = ms;
          best = i;
          have = true;
        }
      }
      cudaEventDestroy(e0);
      cudaEventDestroy(e1);
    }
    p.algo = res[best].algo;
    it = plans_.emplace(key, p).first;
  }
  Plan& p = it->second;
  if (ep != Epilogue::kNone) {
    WAN22_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  }
  const float alpha = 1.0f, beta = 0.0f;
  WAN22_CUBLAS_CHECK(cublasLtMatmul(handle_, p.op, &alpha, w, p.a, x, p.b, &beta, y, p.c, y, p.c, &p.algo,
                                    workspace_, workspace_bytes_, stream));
}

}  // namespace wan22::cuda
