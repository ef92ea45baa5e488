// Device kernels of the UMT5 encoder (T5Cuda): token gather, T5 RMSNorm (no mean subtraction) with
// the residual add fused in front, gated tanh-GELU, the attention's bias + key-mask + softmax, and
// the DiT context padding. All pointers are device pointers; row-major; an explicit stream each;
// every launch is checked (throws wan22::Error with file:line).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/kernels.h"

namespace wan22::cuda::t5 {

// x[r, :] = float(table[ids[r], :]) for r < rows (ids already range-checked on the host).
void embed_rows(const int32_t* ids, const bf16* table, float* x, int64_t rows, int64_t dim, cudaStream_t stream);

// T5 RMSNorm of the fp32 residual stream, optionally after the residual add:
//   if y: x[r, :] += float(y[r, :])            (x updated in place)
//   out[r, :] = w * x[r, :] * rsqrt(mean(x[r, :]^2) + eps)
// out bf16 (GEMM input) or f32 (the encoder's output). y may be nullptr; w fp32 [dim].
void rmsnorm_bf16(float* x, const bf16* y, const float* w, bf16* out, int64_t rows, int64_t dim, float eps,
                  cudaStream_t stream);
void rmsnorm_f32(float* x, const bf16* y, const float* w, float* out, int64_t rows, int64_t dim, float eps,
                 cudaStream_t stream);

// T5 gated FFN middle: h [rows, 2 * ffn] = gate | fc1 (one GEMM's output);
// out[r, c] = bf16(gelu_tanh(h[r, c]) * h[r, ffn + c]), out [rows, ffn].
void gated_gelu(const bf16* h, bf16* out, int64_t rows, int64_t ffn, cudaStream_t stream);

// Attention probabilities of the T5 self-attention with its additive bias:
//   p[b, h, i, j] = softmax_j(s[b, h, i, j] + bias(b, h, i, j))
//   bias = keep[b, j] ? table[bucket[j - i + lq - 1], h] : lowest float   (the reference's masked_fill)
// s fp32 [batch, heads, lq, lk], p bf16 same shape; bucket int32 [lq + lk - 1] (by key - query
// offset); table fp32 [num_buckets, heads] (nullptr: no position bias); keep uint8 [batch, lk]
// (nullptr: every key real). A row whose keys are all masked gets the uniform distribution (as the
// reference: every score collapses to the lowest float).
void bias_mask_softmax(const float* s, const int32_t* bucket, const float* table, const uint8_t* keep, bf16* p,
                       int64_t batch, int64_t heads, int64_t lq, int64_t lk, cudaStream_t stream);

// out [out_rows, dim] bf16 = x [rows, dim] f32 then zero rows (rows <= out_rows).
void rows_to_bf16_padded(const float* x, int64_t rows, int64_t dim, bf16* out, int64_t out_rows,
                         cudaStream_t stream);

}  // namespace wan22::cuda::t5
