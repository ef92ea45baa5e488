// linear and matmul: shape checks, then the OpenBLAS-backed CPU kernels.
#include "ops/ops.h"
#include "ops/op_util.h"

namespace wan22::ops {

using namespace detail;

Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias) {
  constexpr const char* kOp = "linear";
  require_defined(x, kOp, "x");
  require_defined(w, kOp, "w");
  require(x.ndim() >= 1 && w.ndim() == 2 && x.dim(-1) == w.dim(1), kOp,
          "x " + x.str() + " and w " + w.str() + " (expected x [..., in], w [out, in])");
  const int64_t K = w.dim(1), N = w.dim(0);
  if (bias) require(bias->defined() && bias->numel() == N && bias->ndim() == 1, kOp,
                    "bias " + (bias->defined() ? bias->str() : std::string("undefined")) + " for w " + w.str());
  require(dtype_is_float(w.dtype()), kOp, "weight dtype must be a float type, got " + w.str());
  require(w.device().is_cpu(), kOp, "CPU backend got a device weight " + w.str());
  Tensor xf = f32(x, kOp);
  // The weight stays in its dtype (converted block by block inside the kernel) when contiguous.
  Tensor wc = w.is_contiguous() ? w : w.contiguous();
  Tensor bf;
  if (bias) bf = f32(*bias, kOp);
  Shape out_shape = x.shape();
  out_shape.back() = N;
  Tensor y = Tensor::empty(out_shape);
  const int64_t M = K == 0 ? x.numel() / std::max<int64_t>(1, x.dim(-1)) : x.numel() / K;
  if (K == 0) {
    float* py = y.data<float>();
    for (int64_t m = 0; m < y.numel() / std::max<int64_t>(N, 1); ++m)
      for (int64_t n = 0; n < N; ++n) py[m * N + n] = bias ? fptr(bf)[n] : 0.f;
    return y;
  }
  cpu::linear(fptr(xf), M, K, wc.raw_data(), wc.dtype(), N, bias ? fptr(bf) : nullptr, y.data<float>());
  return y;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  constexpr const char* kOp = "matmul";
  require_defined(a, kOp, "a");
  require_defined(b, kOp, "b");
  require(a.ndim() >= 2 && b.ndim() >= 2 && a.dim(-1) == b.dim(-2), kOp,
          "a " + a.str() + " @ b " + b.str() + " (need [..., M, K] @ [..., K, N])");
  const int64_t M = a.dim(-2), K = a.dim(-1), N = b.dim(-1);
  const Shape a_batch(a.shape().begin(), a.shape().end() - 2);
  const Shape b_batch(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shape(a_batch, b_batch, kOp);
  Tensor af = f32(a, kOp), bf = f32(b, kOp);
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor c = Tensor::zeros(out_shape);
  const int64_t nb = shape_numel(batch);
  if (nb == 0 || M == 0 || N == 0 || K == 0) return c;
  const auto as = broadcast_strides(a_batch, batch), bs = broadcast_strides(b_batch, batch);
  std::vector<int64_t> a_off(nb), b_off(nb);
  for (int64_t i = 0; i < nb; ++i) {
    int64_t rem = i, oa = 0, ob = 0;
    for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
      const int64_t idx = rem % batch[d];
      rem /= batch[d];
      oa += idx * as[d];
      ob += idx * bs[d];
    }
    a_off[i] = oa * M * K;
    b_off[i] = ob * K * N;
  }
  cpu::matmul_batched(fptr(af), fptr(bf), c.data<float>(), a_off, b_off, M, N, K);
  return c;
}

}  // namespace wan22::ops
