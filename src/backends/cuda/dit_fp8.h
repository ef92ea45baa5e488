// fp8 (e4m3) linear layers of the DiT: weights quantised per output channel (row), activations per
// token (row), one cuBLASLt fp8 GEMM with fp32 accumulation and bf16 output.
//
// Two GEMM modes, chosen once per shape: (1) cuBLASLt's outer-vector scaling (A scale per output
// channel, B scale per token) with the bias / bias+GELU epilogue fused; (2) where the library has no
// such algorithm, an unscaled fp8 GEMM into bf16 followed by one kernel that applies both scales,
// the bias and GELU; (3) no fp8 algorithm at all for the shape: the weight is dequantised into a
// bf16 scratch and the bf16 GEMM runs. mode_note() says which one ran last.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "backends/cuda/cublaslt_gemm.h"
#include "backends/cuda/kernels.h"
#include "core/tensor.h"

namespace wan22::cuda {

// Per-row symmetric quantisation: scale[r] = max|x[r, :]| / 448 (1 where the row is all zero),
// q[r, c] = e4m3(x[r, c] / scale[r]) (saturating). x bf16 [rows, cols] contiguous.
void quantize_rows_e4m3(const bf16* x, int64_t rows, int64_t cols, uint8_t* q, float* scale, cudaStream_t stream);
// out[r, c] = e4m3 q[r, c] * scale[r] (bf16).
void dequantize_rows_e4m3(const uint8_t* q, const float* scale, int64_t rows, int64_t cols, bf16* out,
                          cudaStream_t stream);
// y[m, n] = act(y[m, n] * xs[m] * ws[n] + bias[n]) in place (bf16 y; act = GELU-tanh or none).
void scale_bias_act_bf16(bf16* y, int64_t m, int64_t n, const float* xs, const float* ws, const bf16* bias, bool gelu,
                         cudaStream_t stream);

// Asks cuBLASLt's heuristic which fp8 GEMM variants it has for y[m, n] = x[m, k] w[n, k]^T on this
// device (outer-vector / scalar scales, epilogues, fast accumulation, output type): one line per
// variant with the number of algorithms offered (a report for the docs; runs no GEMM).
std::string fp8_gemm_probe(int64_t m, int64_t n, int64_t k);

class Fp8Linear {
 public:
  Fp8Linear();
  ~Fp8Linear();
  Fp8Linear(const Fp8Linear&) = delete;
  Fp8Linear& operator=(const Fp8Linear&) = delete;

  // y[m, n] = x[m, k] @ (wq * ws)^T + bias (ep: kBias or kBiasGelu). x, y bf16; wq e4m3 [n, k]; ws
  // f32 [n]; bias bf16 [n]. Quantises x per row into a scratch buffer. Shapes without an fp8
  // algorithm (or k, n not multiples of 16) dequantise the weight and run `bf16_gemm`.
  void linear(LtGemm& bf16_gemm, const bf16* x, const void* wq, const float* ws, const void* bias, bf16* y, int64_t m,
              int64_t n, int64_t k, Epilogue ep, cudaStream_t stream);
  // Which path the last call took (for reports).
  const std::string& mode_note() const { return note_; }

 private:
  struct Plan;
  Plan& plan_for(int64_t m, int64_t n, int64_t k, Epilogue ep);
  void* handle_ = nullptr;  // cublasLtHandle_t
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 64u << 20;
  std::map<std::tuple<int64_t, int64_t, int64_t, int>, Plan*> plans_;
  Tensor xq_, xs_;  // activation scratch (grown as needed)
  Tensor wdq_;      // dequantised weight (fallback path)
  std::string note_;
};

}  // namespace wan22::cuda
