// Internal to the CUDA DiT: the state one forward shares between its prologue (time, patch and
// text embeddings, modulation rows; dit_cuda.cpp) and its block loop (all tokens at once in
// dit_cuda.cpp, or in token segments in dit_cuda_segments.cpp).
#pragma once
#include <cstdint>

#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/kernels.h"

namespace wan22::cuda {

struct DitCuda::Step {
  int64_t B = 1;                   // batch items (1, or 2 for the batched CFG pair)
  int64_t L = 0, LB = 0;           // tokens per item, rows of the flat batch (B * L)
  int64_t gf = 0, gh = 0, gw = 0;  // token grid
  int R = 1;  // modulation rows: 2 when the first latent frame has its own timestep
  int64_t dim = 0;
  int first_streamed = 0;  // blocks [first_streamed, layers) come through the streaming slots
  RopeTable rope;          // row_offset 0
  Tensor x;                // f32 [LB, dim]: the residual stream
  Tensor ctx;              // bf16 [B * text_len, dim]: the embedded contexts
  Tensor mods;             // f32 [layers, R, 6 * dim]: block modulation + time projection
  Tensor head_mod;         // f32 [R, 2 * dim]: head modulation + time embedding
  Tensor
      head_out;  // bf16 [LB, out_dim * ph * pw]: the head's linear layer (the block loop fills it)

  // Per-token selection of a modulation row (row 1 for the tokens of latent frame 0 when R == 2)
  // for a kernel whose row 0 is flat row `row_offset`.
  TokenVec tokvec(const float* base, int64_t row_stride, int64_t row_offset = 0) const {
    if (R == 1) return TokenVec::same(base);
    return TokenVec{base + row_stride, base, gh * gw, L, row_offset};
  }
  // Block `layer`'s modulation vector c (0 shift, 1 scale, 2 gate, 3 c_shift, 4 c_scale, 5 c_gate).
  TokenVec mod(int64_t layer, int c, int64_t row_offset = 0) const {
    return tokvec(static_cast<const float*>(mods.raw_data()) + layer * R * 6 * dim + c * dim,
                  6 * dim, row_offset);
  }
  // The head's shift (c = 0) and scale (c = 1).
  TokenVec head(int c, int64_t row_offset = 0) const {
    return tokvec(static_cast<const float*>(head_mod.raw_data()) + c * dim, 2 * dim, row_offset);
  }
  RopeTable rope_at(int64_t row_offset) const {
    RopeTable r = rope;
    r.row_offset = row_offset;
    return r;
  }
};

}  // namespace wan22::cuda
