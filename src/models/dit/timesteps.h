// Per-token timesteps, computed once per distinct value. In image-to-video the tokens of latent
// frame 0 run at t = 0 and the rest at t, so a whole forward needs two embedding rows, not one per
// token. Every per-token quantity (modulation shift/scale/gate) is a row of a small table
// [U, K, dim] indexed through `row`.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace wan22::models::dit {

struct TimestepRows {
  std::vector<double> values;  // the distinct timesteps, in order of first appearance
  std::vector<int32_t> row;    // [batch * tokens]: index into `values` of token (b, l)
  int64_t batch = 0, tokens = 0;
  int64_t distinct() const { return static_cast<int64_t>(values.size()); }
};

// t: [B] or [1] (one timestep for all tokens of an item), or [B, seq_len] / [seq_len] when
// batch == 1 (per token; the first `tokens` entries are used: the reference pads the sequence to
// seq_len and the padding never reaches the real tokens). B may be 1 for any batch (shared).
TimestepRows distinct_timesteps(const Tensor& t, int64_t batch, int64_t tokens, int64_t seq_len);

// The sinusoidal embedding [U, freq_dim] = cat(cos(t*w), sin(t*w)), w_i = 10000^(-i/half):
// float64 as the official sinusoidal_embedding_1d (f64 = true), or float32 as diffusers'
// get_timestep_embedding(flip_sin_to_cos=True, downscale_freq_shift=0) (f64 = false).
Tensor sinusoidal_embedding(const std::vector<double>& t, int64_t freq_dim, bool f64);

// out[b, l, :] = x[b, l, :] * (1 + table[row(b,l), scale_idx, :]) + table[row(b,l), shift_idx, :]
// x: [B, L, D] f32; table: [U, K, D] f32.
Tensor modulate(const Tensor& x, const Tensor& table, const TimestepRows& rows, int shift_idx, int scale_idx);
// x[b, l, :] += y[b, l, :] * table[row(b,l), gate_idx, :]   (x contiguous f32, updated in place)
void gated_residual_(Tensor& x, const Tensor& y, const Tensor& table, const TimestepRows& rows, int gate_idx);

}  // namespace wan22::models::dit
