// CPU kernels behind src/ops: raw float32 buffers (contiguous unless a stride is given),
// multi-threaded through wan22::parallel_for. Shape checks live in src/ops; these trust their input.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace wan22::cpu {

// ---------------- tensor plumbing ----------------
// A contiguous f32 CPU tensor holding x's values (x itself when it already is one).
// Throws kUnsupported for non-CPU tensors and non-float/integer dtypes it cannot convert.
Tensor to_f32(const Tensor& x, const char* op);
// Copies any CPU view (any dtype) into dst (contiguous f32, x.numel() floats), in parallel.
void gather_f32(const Tensor& x, float* dst);
// Converts n contiguous elements of type t at src into float (parallel for large n).
void convert_f32(const void* src, DType t, float* dst, int64_t n);

// ---------------- GEMM ----------------
// Row-major C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C, one single-threaded BLAS call.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// y[M,N] = x[M,K] @ w[N,K]^T + bias[N]; w contiguous of dtype wdt (converted in row blocks).
void linear(const float* x, int64_t M, int64_t K, const void* w, DType wdt, int64_t N,
            const float* bias, float* y);
// c[i] = a[a_off[i]] @ b[b_off[i]] for each batch item i ([M,K] @ [K,N] -> [M,N], contiguous).
void matmul_batched(const float* a, const float* b, float* c, const std::vector<int64_t>& a_off,
                    const std::vector<int64_t>& b_off, int64_t M, int64_t N, int64_t K);

// ---------------- normalisation ----------------
void layer_norm(const float* x, float* y, int64_t rows, int64_t D, const float* w, const float* b,
                float eps);
void rms_norm(const float* x, float* y, int64_t rows, int64_t D, const float* w, float eps);
// x viewed as [outer, C, inner]; F.normalize over C, * sqrt(C) * w[c] + b[c].
void rms_norm_dim(const float* x, float* y, int64_t outer, int64_t C, int64_t inner, const float* w,
                  const float* b, float eps);
// x [N, C, S]; groups G.
void group_norm(const float* x, float* y, int64_t N, int64_t C, int64_t S, int64_t G, const float* w,
                const float* b, float eps);

// ---------------- elementwise ----------------
enum class Unary { kNeg, kExp, kLog, kSqrt, kRsqrt, kTanh, kSigmoid, kAbs, kSin, kCos, kSilu,
                   kGeluTanh, kGeluErf, kAddScalar, kMulScalar, kClamp };
void unary(Unary op, const float* x, float* y, int64_t n, float p0 = 0.f, float p1 = 0.f);
enum class Binary { kAdd, kSub, kMul, kDiv, kMax, kMin };
// out[shape] = a op b, with element strides (0 for broadcast dims) for a and b; out contiguous.
void binary(Binary op, const float* a, const std::vector<int64_t>& a_strides, const float* b,
            const std::vector<int64_t>& b_strides, float* out, const std::vector<int64_t>& shape);
void axpby(float a, const float* x, float b, const float* y, float* out, int64_t n);
// x viewed as [outer, n, inner]; softmax over n.
void softmax(const float* x, float* y, int64_t outer, int64_t n, int64_t inner);

// ---------------- reductions over [outer, n, inner] -> [outer, inner] ----------------
enum class Reduce { kSum, kMean, kMax };
void reduce(Reduce op, const float* x, float* y, int64_t outer, int64_t n, int64_t inner);

// ---------------- attention ----------------
struct AttentionParams {
  int64_t B = 0, Lq = 0, Lk = 0, H = 0, D = 0;
  float scale = 1.0f;
  const float* bias = nullptr;  // [Bb, H, Lq, Lk] contiguous
  int64_t bias_batch = 0;       // Bb (1 or B)
  const int64_t* k_lens = nullptr;  // [B] or nullptr
  int64_t head_slice = 0;
};
// q [B,Lq,H,D], k/v [B,Lk,H,D], out [B,Lq,H,D], all contiguous.
void attention(const float* q, const float* k, const float* v, float* out, const AttentionParams& p);

// ---------------- rotary ----------------
void rope_3d(const float* x, float* y, int64_t B, int64_t L, int64_t H, int64_t D, int64_t f,
             int64_t h, int64_t w, double theta);

// ---------------- convolution / resampling ----------------
struct Conv3dParams {
  int64_t N = 0, C = 0, T = 0, H = 0, W = 0;
  int64_t O = 0, kt = 1, kh = 1, kw = 1;
  std::array<int64_t, 3> stride{1, 1, 1};
  std::array<int64_t, 6> pad{0, 0, 0, 0, 0, 0};
  int64_t To = 0, Ho = 0, Wo = 0;
};
// x [N,C,T,H,W], w [O, C*kt*kh*kw], bias [O] or nullptr, y [N,O,To,Ho,Wo].
void conv3d(const float* x, const float* w, const float* bias, float* y, const Conv3dParams& p);
// x [outer, H, W] -> y [outer, H*sh, W*sw].
void upsample_nearest2d(const float* x, float* y, int64_t outer, int64_t H, int64_t W, int64_t sh,
                        int64_t sw);

}  // namespace wan22::cpu
