// Device kernels for the DiT forward: bf16 storage, fp32 math, an explicit stream in every entry
// point. All pointers are device pointers; every launch is checked (WAN22_CUDA_CHECK on the launch
// error) and throws wan22::Error with file:line. Row-major tensors; `rows` x `dim` unless stated.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace wan22::cuda {

using bf16 = __nv_bfloat16;

// Per-token vectors (modulation shift/scale/gate, [dim] fp32 each) for the two timestep classes of
// Wan2.2's per-token timesteps: tokens [0, split) of each batch item use `a`, the rest use `b`.
// Text-to-video passes a == b (or split = 0). Row r belongs to batch item (r + row_offset) /
// tokens_per_item: a kernel called on rows [r0, r1) of the flat batch (a token segment) passes
// row_offset = r0.
struct TokenVec {
  const float* a = nullptr;
  const float* b = nullptr;
  int64_t split = 0;
  int64_t tokens_per_item = INT64_MAX;  // rows per batch item (the split restarts each item)
  int64_t row_offset = 0;               // flat row of the kernel's row 0
  __host__ __device__ const float* at(int64_t row) const {
    return ((row + row_offset) % tokens_per_item) < split ? a : b;
  }
  static TokenVec same(const float* v) { return TokenVec{v, v, 0, INT64_MAX, 0}; }
};

// ---------------- normalisation ----------------
// out = LN(x) [* weight + bias] [* (1 + scale) + shift], LN without affine over `dim`, eps.
// x fp32 (the residual stream), out bf16. weight/bias fp32 [dim] or nullptr (both or neither);
// scale/shift: modulation (TokenVec with null pointers = none).
void layernorm_modulate(const float* x, bf16* out, int64_t rows, int64_t dim, float eps,
                        const float* weight, const float* bias, TokenVec shift, TokenVec scale,
                        cudaStream_t stream);

// Fused residual + norm: x[r] += gate(r) * y[r] (gate null = plain add; x fp32 updated in place,
// y bf16 with row stride ld_y), then out = layernorm_modulate(x) as above.
void residual_layernorm_modulate(float* x, const bf16* y, int64_t ld_y, TokenVec gate, bf16* out, int64_t rows,
                                 int64_t dim, float eps, const float* weight, const float* bias, TokenVec shift,
                                 TokenVec scale, cudaStream_t stream);

// Precomputed RoPE rotation table of Wan's 3-axis RoPE for a grid f x h x w and head dim D:
// float2 (cos, sin) per (axis position, pair), computed in double on the host.
// Layout: [f][cf] then [h][ch] then [w][cw] with cf = c - 2*(c/3), ch = cw = c/3, c = D/2.
struct RopeTable {
  const float2* table = nullptr;  // device pointer (nullptr: no rotation)
  int64_t grid_f = 0, grid_h = 0, grid_w = 0;
  int head_dim = 0;
  // Flat row of the kernel's row 0 (a token segment [r0, r1) of the batch passes r0): row r is
  // token (r + row_offset) % tokens_per_item.
  int64_t row_offset = 0;
};
// Host side: fills `host` (size rope_table_size(...)) with the (cos, sin) pairs.
int64_t rope_table_size(int64_t grid_f, int64_t grid_h, int64_t grid_w, int head_dim);
void rope_table_fill(float2* host, int64_t grid_f, int64_t grid_h, int64_t grid_w, int head_dim,
                     double theta = 10000.0);

// q/k normalisation of the DiT: RMSNorm over the whole row (`dim` = heads * head_dim) with
// weight [dim] (fp32, may be nullptr), then (if rope.table) Wan's 3-axis RoPE per head on the
// token index within its batch item ((row + rope.row_offset) % tokens_per_item; tokens beyond the
// grid are not rotated). x, out bf16 with row strides ld_x, ld_out (elements); out may alias x.
void rmsnorm_rope(const bf16* x, int64_t ld_x, bf16* out, int64_t ld_out, int64_t rows, int64_t dim,
                  const float* weight, float eps, RopeTable rope, int64_t tokens_per_item,
                  cudaStream_t stream);

// ---------------- residual stream ----------------
// x[r, :] += gate(r) * y[r, :]   (x fp32, y bf16 with row stride ld_y; gate null = plain add).
void gated_residual_add(float* x, const bf16* y, int64_t ld_y, int64_t rows, int64_t dim, TokenVec gate,
                        cudaStream_t stream);

// ---------------- elementwise (n elements, contiguous) ----------------
void gelu_tanh_bf16(const bf16* x, bf16* y, int64_t n, cudaStream_t stream);
void silu_f32(const float* x, float* y, int64_t n, cudaStream_t stream);
void silu_bf16(const bf16* x, bf16* y, int64_t n, cudaStream_t stream);
void add_f32(const float* a, const float* b, float* y, int64_t n, cudaStream_t stream);
void mul_f32(const float* a, const float* b, float* y, int64_t n, cudaStream_t stream);
void add_bf16(const bf16* a, const bf16* b, bf16* y, int64_t n, cudaStream_t stream);
void mul_bf16(const bf16* a, const bf16* b, bf16* y, int64_t n, cudaStream_t stream);
void f32_to_bf16(const float* x, bf16* y, int64_t n, cudaStream_t stream);
void bf16_to_f32(const bf16* x, float* y, int64_t n, cudaStream_t stream);

// ---------------- small fp32 linear (time embedding; a handful of rows) ----------------
// y[r, n] = act_in(x[r, :]) . w[n, :] + bias[n] for r < rows (rows <= 8), fp32 x/y, bf16 w [N, K],
// fp32 bias or nullptr. act_in: apply SiLU to x first (time_projection = Linear(SiLU(e))).
// out_silu: apply SiLU to the result (time_embedding's middle activation).
void small_linear_f32(const float* x, const bf16* w, const float* bias, float* y, int rows, int64_t n,
                      int64_t k, bool silu_in, bool silu_out, cudaStream_t stream);

// ---------------- DiT layout helpers ----------------
// Patch embedding as a GEMM operand: latent [C, F, H, W] fp32 -> rows [(f, h/ph, w/pw)] x
// columns [(c, kt=1, kh, kw)] bf16 (the Conv3d weight [dim, C, 1, ph, pw] flattened matches).
void patchify_bf16(const float* latent, bf16* rows, int64_t C, int64_t F, int64_t H, int64_t W, int ph,
                   int pw, cudaStream_t stream);
// Inverse of the head's layout: rows [(f, gh, gw)] x [(kh, kw, c)] (out_dim*ph*pw, row stride ld)
// bf16 -> video [C, F, gh*ph, gw*pw] fp32 (Wan's unpatchify einsum 'fhwpqrc->cfphqwr').
void unpatchify_f32(const bf16* rows, int64_t ld, float* video, int64_t C, int64_t F, int64_t gh,
                    int64_t gw, int ph, int pw, cudaStream_t stream);

// Adds a per-column vector to every row of an fp32 matrix: y[r, c] = x[r, c] + v[c] (the
// modulation table plus the time projection, [rows, dim]).
void add_rowvec_f32(const float* x, const float* v, float* y, int64_t rows, int64_t dim, cudaStream_t stream);

// Counter-based uniform random values in [lo, hi) (hash of seed and index): random weights for
// benchmarks without a host round trip. Deterministic for a given seed.
void fill_uniform_bf16(bf16* p, int64_t n, uint64_t seed, float lo, float hi, cudaStream_t stream);
void fill_uniform_f32(float* p, int64_t n, uint64_t seed, float lo, float hi, cudaStream_t stream);

}  // namespace wan22::cuda
