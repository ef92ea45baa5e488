// int8 weight-only quantisation of the DiT's block matrices (WeightFormat::kInt8, for GPUs without
// fp8 GEMMs such as sm_80): weights stored as int8 with one f32 scale per output channel (row),
// symmetric, scale = max|w_row| / 127. Before each GEMM the matrix (or the rows of it the GEMM
// needs) is dequantised into a bf16 device scratch and the ordinary bf16 GEMM runs.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/cublaslt_gemm.h"
#include "backends/cuda/kernels.h"
#include "core/tensor.h"

namespace wan22::cuda {

// Per-row symmetric quantisation: scale[r] = max|x[r, :]| / 127 (1 where the row is all zero),
// q[r, c] = round_to_nearest_even(x[r, c] / scale[r]) clamped to [-127, 127]. x bf16 [rows, cols]
// contiguous; q int8 [rows, cols]; scale f32 [rows].
void quantize_rows_int8(const bf16* x, int64_t rows, int64_t cols, int8_t* q, float* scale,
                        cudaStream_t stream);
// out[r, c] = bf16(q[r, c] * scale[r]).
void dequantize_rows_int8(const int8_t* q, const float* scale, int64_t rows, int64_t cols,
                          bf16* out, cudaStream_t stream);

// y[m, n] = x[m, k] @ (q * scale)^T + bias through a bf16 scratch (grown as needed, reused in
// stream order: every call on the same stream).
class Int8Linear {
 public:
  void linear(LtGemm& gemm, const bf16* x, const int8_t* wq, const float* ws, const void* bias,
              bf16* y, int64_t m, int64_t n, int64_t k, Epilogue ep, cudaStream_t stream);
  // Bytes of the dequantisation scratch (the largest matrix dequantised so far, bf16).
  size_t scratch_bytes() const { return wdq_.defined() ? wdq_.nbytes() : 0; }

 private:
  Tensor wdq_;
};

}  // namespace wan22::cuda
