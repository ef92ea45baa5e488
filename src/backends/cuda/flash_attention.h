// Flash-attention forward for bf16 q/k/v with fp32 accumulation and an online softmax
// (tensor-core mma.sync m16n8k16, cp.async double-buffered K/V tiles). Head dim 32, 64 or 128.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/kernels.h"

namespace wan22::cuda {

// Element strides of a [B, L, H, D] tensor view (D contiguous). The default constructor describes
// a contiguous [B, L, H, D] tensor; a fused QKV GEMM output [B*L, 3*H*D] has token stride 3*H*D.
struct AttnLayout {
  int64_t batch = 0, token = 0, head = 0;
  static AttnLayout contiguous(int64_t L, int64_t H, int64_t D) { return AttnLayout{L * H * D, H * D, D}; }
};

struct FlashParams {
  const bf16* q = nullptr;
  const bf16* k = nullptr;
  const bf16* v = nullptr;
  bf16* o = nullptr;
  AttnLayout lq, lk, lv, lo;
  int64_t batch = 1, len_q = 0, len_k = 0, heads = 1;
  int head_dim = 128;
  float scale = 0.0f;  // 0 -> 1/sqrt(head_dim)
};

// Kernel variants (the tile shape), for benchmarking; kAuto picks the tuned one.
// W<warps>M<m16 tiles per warp>: 4 warps x 32 rows (BM 128), 8 warps x 32 rows (BM 256), 8 warps x
// 16 rows (BM 128); all with 64-key tiles.
enum class FlashVariant { kAuto, kW4M2, kW8M2, kW8M1 };

// o = softmax(q k^T * scale) v per (batch, head). Throws Error on bad shapes/strides.
void flash_attention_fwd(const FlashParams& p, cudaStream_t stream, FlashVariant variant = FlashVariant::kAuto);

// FLOPs of one call (4 * B * H * Lq * Lk * D), for TFLOP/s reports.
inline double flash_attention_flops(const FlashParams& p) {
  return 4.0 * static_cast<double>(p.batch) * static_cast<double>(p.heads) * static_cast<double>(p.len_q) *
         static_cast<double>(p.len_k) * p.head_dim;
}

}  // namespace wan22::cuda
