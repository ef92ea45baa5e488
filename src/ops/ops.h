// The op layer: shape checks + dispatch to a backend implementation (CPU now; CUDA later).
// Compute is float32. Inputs may be any float dtype (bf16/f16/fp8 weights are converted on the
// fly); outputs are new contiguous f32 tensors on the input's device unless stated otherwise.
// Every op throws wan22::Error(kInvalidArgument) naming the op and the shapes on bad input.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace wan22::ops {

// ---------------- linear algebra ----------------
// x [..., in], w [out, in] (PyTorch layout), bias [out] or nullptr -> [..., out].
Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias = nullptr);
// a [..., M, K] @ b [..., K, N] with broadcasting over the leading dims -> [..., M, N].
Tensor matmul(const Tensor& a, const Tensor& b);

// ---------------- normalisation (over the last dim) ----------------
// LayerNorm; weight/bias [D] or nullptr (elementwise_affine=False).
Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps);
// RMSNorm: x * rsqrt(mean(x^2) + eps) * weight (weight may be nullptr).
Tensor rms_norm(const Tensor& x, const Tensor* weight, float eps);
// Wan's VAE RMS_norm over dim `dim` (e.g. channels of [N,C,T,H,W]):
// F.normalize(x, dim) * sqrt(C) * gamma + bias, where F.normalize(x) = x / max(||x||_2, eps) (eps
// clamps the L2 norm; it is not added). weight/bias hold C values (shape [C] or [C,1,1,1]) or nullptr.
Tensor rms_norm_dim(const Tensor& x, int dim, const Tensor* weight, const Tensor* bias, float eps = 1e-12f);
// GroupNorm over [N, C, ...] with `groups` groups; weight/bias [C] or nullptr.
Tensor group_norm(const Tensor& x, int groups, const Tensor* weight, const Tensor* bias, float eps);

// ---------------- activations ----------------
Tensor gelu_tanh(const Tensor& x);  // 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))
Tensor gelu_erf(const Tensor& x);   // 0.5x(1+erf(x/sqrt 2))
Tensor silu(const Tensor& x);
Tensor softmax(const Tensor& x, int dim = -1);

// ---------------- attention ----------------
struct AttentionOptions {
  float scale = 0.0f;          // 0 -> 1/sqrt(head_dim); T5 uses 1.0
  const Tensor* bias = nullptr;  // additive [Bb, H, Lq, Lk] with Bb in {1, B} (T5 position bias)
  // Valid key length per batch item (keys at >= k_len are masked out); empty = all valid.
  // A k_len of 0 gives zeros for that batch item.
  std::vector<int64_t> k_lens;
  int head_slice = 0;          // process this many heads at a time (0 = all)
};
// q [B, Lq, H, D], k/v [B, Lk, H, D] -> [B, Lq, H, D]. Flash-style: tiled with an online
// softmax, never an Lq x Lk matrix in memory.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt = {});

// ---------------- rotary embedding (Wan's 3-axis RoPE) ----------------
// x [B, L, H, D] (D even). The D/2 complex pairs are split into (frame, height, width) parts of
// sizes c - 2*(c/3), c/3, c/3 (c = D/2), each with its own frequencies theta^(-2i/d_axis), where
// d_axis = D - 4*(D/6), 2*(D/6), 2*(D/6). Token (f, h, w) of the f x h x w grid (row-major, the
// first f*h*w tokens) is rotated by its axis positions; tokens beyond the grid are left unchanged.
// Rotation is computed in double precision as the reference does (float64 complex).
Tensor rope_3d(const Tensor& x, int64_t grid_f, int64_t grid_h, int64_t grid_w, double theta = 10000.0);

// ---------------- convolution and resampling ----------------
// x [N, C, T, H, W], w [O, C, kt, kh, kw], bias [O] or nullptr. pad = {t_front, t_back, h_top,
// h_bottom, w_left, w_right} zeros (causal time padding = {2*p, 0, ...}).
Tensor conv3d(const Tensor& x, const Tensor& w, const Tensor* bias, std::array<int, 3> stride,
              std::array<int, 6> pad);
// x [N, C, H, W], w [O, C, kh, kw]; pad = {top, bottom, left, right}.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, std::array<int, 2> stride,
              std::array<int, 4> pad);
// Nearest upsampling of the last two dims by integer factors (x [..., H, W]).
Tensor upsample_nearest2d(const Tensor& x, int scale_h, int scale_w);

enum class PadMode { kConstant, kReplicate };
// pads: pairs (before, after) per dim, starting from dim 0 ({} pairs for unpadded leading dims
// must be given as 0,0). pads.size() == 2 * x.ndim().
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode = PadMode::kConstant,
           float value = 0.0f);

// ---------------- shape ops ----------------
Tensor concat(const std::vector<Tensor>& xs, int dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim);  // views
std::vector<Tensor> chunk(const Tensor& x, int n, int dim);                             // views
Tensor permute(const Tensor& x, const std::vector<int>& dims);  // contiguous copy
Tensor repeat_interleave(const Tensor& x, int64_t repeats, int dim);
// Rows of table [V, D] for integer ids (i32/i64) of any shape -> [ids..., D].
Tensor embedding(const Tensor& ids, const Tensor& table);

// ---------------- elementwise (NumPy broadcasting) ----------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, float s);
Tensor mul_scalar(const Tensor& a, float s);
// a*x + b*y elementwise (same shapes); used by the solvers.
Tensor axpby(float a, const Tensor& x, float b, const Tensor& y);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor clamp(const Tensor& x, float lo, float hi);
// In place on a contiguous f32 CPU/device tensor: a += b (b broadcast to a).
void add_(Tensor& a, const Tensor& b);

// ---------------- reductions ----------------
Tensor sum(const Tensor& x, int dim, bool keepdim = false);
Tensor mean(const Tensor& x, int dim, bool keepdim = false);
Tensor amax(const Tensor& x, int dim, bool keepdim = false);
double sum_all(const Tensor& x);
double max_abs(const Tensor& x);
// ||a - b|| / ||b|| over all elements (double accumulation); the golden-test metric.
double rel_error(const Tensor& got, const Tensor& ref);

}  // namespace wan22::ops
