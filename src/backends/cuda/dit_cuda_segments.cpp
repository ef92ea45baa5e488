// The DiT's blocks in token segments (DitCuda::set_segments, the guide's checkpoint_segments): the
// residual stream x and self-attention's k|v stay whole, everything per token runs over segments of
// `seg` rows of the flat batch, so the per-token buffers (modulated norm, q, attention output,
// projection output, FFN hidden) hold `seg` rows instead of B * L.
//
// Per block:
//   1. for every segment: xn = LN(x) * (1 + scale) + shift; k|v = xn @ W_k|v^T; RMSNorm + RoPE on k
//      (k|v of all tokens are needed before any query runs);
//   2. the cross-attention k|v of the contexts (as the whole path);
//   3. for every segment, in order: xn = LN(x) modulated again (the same bits as in step 1); q;
//      self-attention of the segment's queries against every key of their batch item; o;
//      x += gate * y with norm3; cross q, cross-attention, cross o; x += y with the FFN's
//      modulated norm; FFN; x += gate * y fused with the next block's (or the head's) modulated
//      norm, whose output is used only by the head (the last block's: the head's linear layer
//      runs per segment). A segment only changes its own rows of x, and step 1 has read all of x.
// The elementwise kernels see the same inputs as in the whole path and give the same bits; the
// GEMMs (smaller M; q and k|v as two GEMMs) may round differently.
#include <algorithm>

#include "backends/cuda/device_tensor.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/dit_cuda_step.h"
#include "backends/cuda/kernels.h"

namespace wan22::cuda {

void DitCuda::run_blocks_segmented(Step& s, cudaStream_t st) {
  const int64_t D = cfg_.dim, H = cfg_.heads, hd = cfg_.head_dim(), FF = cfg_.ffn_dim,
                T = cfg_.text_len;
  const int64_t B = s.B, L = s.L, LB = s.LB;
  const int64_t pout = cfg_.out_dim * cfg_.patch_h * cfg_.patch_w;
  const int nl = static_cast<int>(cfg_.layers);
  const int64_t n = std::max(1, segments_);
  // B * ceil(L / n) rows per segment (the planner's b * L/N), rounded up to even so that every
  // segment's rows of k|v start 256-byte aligned (4 * dim bytes per row, dim a multiple of 32: the
  // alignment cuBLASLt's heuristic assumes for the GEMM output). A segment may span two batch
  // items.
  int64_t seg = B * ((L + n - 1) / n);
  seg = std::min(LB, seg + (seg & 1));

  // ---- work buffers: whole (x is s.x) and per segment ----
  Tensor kv = dev_bf16({LB, 2 * D});      // self-attention k|v of every token
  Tensor ckv = dev_bf16({B * T, 2 * D});  // cross-attention k|v of the contexts
  Tensor xn = dev_bf16({seg, D});
  Tensor q = dev_bf16({seg, D});
  Tensor attn = dev_bf16({seg, D});
  Tensor y = dev_bf16({seg, D});
  Tensor hidden = dev_bf16({seg, FF});
  s.head_out = dev_bf16({LB, pout});
  Tensor head_seg = dev_bf16({seg, pout});  // the head's GEMM output (copied into head_out's rows)

  // Attention of the segment's query rows [r0, r0 + rows) against the keys of their batch items:
  // one call per batch item the segment touches. q and o: [rows, D] (row stride D); k, v: rows of
  // `kvbuf` with row stride 2 * D, `klen` rows per item (k in columns [0, D), v in [D, 2 D)).
  auto attend = [&](const bf16* qbuf, const bf16* kvbuf, int64_t klen, int64_t r0, int64_t rows) {
    for (int64_t p0 = r0; p0 < r0 + rows;) {
      const int64_t item = p0 / L;
      const int64_t p1 = std::min(r0 + rows, (item + 1) * L);
      const int64_t len = p1 - p0;
      FlashParams a;
      a.q = qbuf + (p0 - r0) * D;
      a.o = bp(attn) + (p0 - r0) * D;
      a.k = kvbuf + item * klen * 2 * D;
      a.v = a.k + D;
      a.lq = a.lo = AttnLayout::contiguous(len, H, hd);
      a.lk = a.lv = AttnLayout{klen * 2 * D, 2 * D, hd};
      a.batch = 1, a.len_q = len, a.len_k = klen, a.heads = H, a.head_dim = static_cast<int>(hd);
      attention(a, st);
      p0 = p1;
    }
  };

  const RopeTable no_rope{};
  for (int i = 0; i < nl; ++i) {
    const DitBlockWeights& b = acquire_block(s, i, st);
    const bool last = i + 1 == nl;
    // 1. k|v of every token (rows [D, 3 D) of the fused q|k|v weight)
    for (int64_t r0 = 0; r0 < LB; r0 += seg) {
      const int64_t rows = std::min(seg, LB - r0);
      float* xr = fp(s.x) + r0 * D;
      bf16* kvr = bp(kv) + r0 * 2 * D;
      layernorm_modulate(xr, bp(xn), rows, D, cfg_.eps, nullptr, nullptr, s.mod(i, 0, r0),
                         s.mod(i, 1, r0), st);
      linear_rows(bp(xn), b.qkv_w, b.qkv_s, b.qkv_b, D, 2 * D, kvr, rows, Epilogue::kBias, st);
      rmsnorm_rope(kvr, 2 * D, kvr, 2 * D, rows, D, fp(b.norm_k), cfg_.eps, s.rope_at(r0), L, st);
    }
    // 2. cross-attention k|v
    linear(bp(s.ctx), b.ckv_w, b.ckv_s, b.ckv_b, bp(ckv), B * T, Epilogue::kBias, st);
    rmsnorm_rope(bp(ckv), 2 * D, bp(ckv), 2 * D, B * T, D, fp(b.cnorm_k), cfg_.eps, no_rope, T, st);
    // 3. the rest of the block per segment
    for (int64_t r0 = 0; r0 < LB; r0 += seg) {
      const int64_t rows = std::min(seg, LB - r0);
      float* xr = fp(s.x) + r0 * D;
      // self-attention
      layernorm_modulate(xr, bp(xn), rows, D, cfg_.eps, nullptr, nullptr, s.mod(i, 0, r0),
                         s.mod(i, 1, r0), st);
      linear_rows(bp(xn), b.qkv_w, b.qkv_s, b.qkv_b, 0, D, bp(q), rows, Epilogue::kBias, st);
      rmsnorm_rope(bp(q), D, bp(q), D, rows, D, fp(b.norm_q), cfg_.eps, s.rope_at(r0), L, st);
      attend(bp(q), bp(kv), L, r0, rows);
      linear(bp(attn), b.o_w, b.o_s, b.o_b, bp(y), rows, Epilogue::kBias, st);
      residual_layernorm_modulate(xr, bp(y), D, s.mod(i, 2, r0), bp(xn), rows, D, cfg_.eps,
                                  fp(b.norm3_w), fp(b.norm3_b), TokenVec{}, TokenVec{}, st);
      // cross-attention
      linear(bp(xn), b.cq_w, b.cq_s, b.cq_b, bp(q), rows, Epilogue::kBias, st);
      rmsnorm_rope(bp(q), D, bp(q), D, rows, D, fp(b.cnorm_q), cfg_.eps, no_rope, L, st);
      attend(bp(q), bp(ckv), T, r0, rows);
      linear(bp(attn), b.co_w, b.co_s, b.co_b, bp(y), rows, Epilogue::kBias, st);
      residual_layernorm_modulate(xr, bp(y), D, TokenVec{}, bp(xn), rows, D, cfg_.eps, nullptr,
                                  nullptr, s.mod(i, 3, r0), s.mod(i, 4, r0), st);
      // feed-forward
      linear(bp(xn), b.ffn1_w, b.ffn1_s, b.ffn1_b, bp(hidden), rows, Epilogue::kBiasGelu, st);
      linear(bp(hidden), b.ffn2_w, b.ffn2_s, b.ffn2_b, bp(y), rows, Epilogue::kBias, st);
      if (r0 + rows >= LB) release_block(s, i, st);  // the block's last GEMM is enqueued
      residual_layernorm_modulate(xr, bp(y), D, s.mod(i, 5, r0), bp(xn), rows, D, cfg_.eps, nullptr,
                                  nullptr, last ? s.head(0, r0) : s.mod(i + 1, 0, r0),
                                  last ? s.head(1, r0) : s.mod(i + 1, 1, r0), st);
      if (last) {
        gemm_.linear_bf16(bp(xn), bp(w_.head_w), bp(w_.head_b), bp(head_seg), rows, pout, D,
                          Epilogue::kBias, st);
        WAN22_CUDA_CHECK(cudaMemcpyAsync(bp(s.head_out) + r0 * pout, bp(head_seg),
                                         static_cast<size_t>(rows * pout) * sizeof(bf16),
                                         cudaMemcpyDeviceToDevice, st));
      }
    }
  }
}

}  // namespace wan22::cuda
