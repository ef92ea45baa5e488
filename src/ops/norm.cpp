// Normalisation ops: LayerNorm, RMSNorm (last dim), Wan VAE RMS_norm (any dim), GroupNorm.
#include <cmath>

#include "ops/ops.h"
#include "ops/op_util.h"

namespace wan22::ops {

using namespace detail;

namespace {
// f32 copy of an optional per-feature parameter with `n` elements (any shape of that size).
Tensor param(const Tensor* p, int64_t n, const char* op, const char* name, const Tensor& x) {
  if (!p) return {};
  require(p->defined() && p->numel() == n, op,
          std::string(name) + " " + (p->defined() ? p->str() : "undefined") + " does not match " +
              std::to_string(n) + " features of x " + x.str());
  return f32(*p, op);
}
const float* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) {
  constexpr const char* kOp = "layer_norm";
  require_defined(x, kOp, "x");
  require(x.ndim() >= 1, kOp, "x must have at least one dim, got " + x.str());
  const int64_t D = x.dim(-1);
  Tensor w = param(weight, D, kOp, "weight", x), b = param(bias, D, kOp, "bias", x);
  Tensor xf = f32(x, kOp);
  Tensor y = Tensor::empty(x.shape());
  if (D > 0) cpu::layer_norm(fptr(xf), y.data<float>(), x.numel() / D, D, ptr_or_null(w), ptr_or_null(b), eps);
  return y;
}

Tensor rms_norm(const Tensor& x, const Tensor* weight, float eps) {
  constexpr const char* kOp = "rms_norm";
  require_defined(x, kOp, "x");
  require(x.ndim() >= 1, kOp, "x must have at least one dim, got " + x.str());
  const int64_t D = x.dim(-1);
  Tensor w = param(weight, D, kOp, "weight", x);
  Tensor xf = f32(x, kOp);
  Tensor y = Tensor::empty(x.shape());
  if (D > 0) cpu::rms_norm(fptr(xf), y.data<float>(), x.numel() / D, D, ptr_or_null(w), eps);
  return y;
}

Tensor rms_norm_dim(const Tensor& x, int dim, const Tensor* weight, const Tensor* bias, float eps) {
  constexpr const char* kOp = "rms_norm_dim";
  require_defined(x, kOp, "x");
  require(x.ndim() >= 1, kOp, "x must have at least one dim, got " + x.str());
  const int d = norm_dim(dim, x.ndim(), kOp);
  const int64_t C = x.shape()[d];
  Tensor w = param(weight, C, kOp, "weight", x), b = param(bias, C, kOp, "bias", x);
  Tensor xf = f32(x, kOp);
  Tensor y = Tensor::empty(x.shape());
  const int64_t outer = prod(x.shape(), 0, d), inner = prod(x.shape(), d + 1, x.ndim());
  if (x.numel() > 0)
    cpu::rms_norm_dim(fptr(xf), y.data<float>(), outer, C, inner, ptr_or_null(w), ptr_or_null(b), eps);
  return y;
}

Tensor group_norm(const Tensor& x, int groups, const Tensor* weight, const Tensor* bias, float eps) {
  constexpr const char* kOp = "group_norm";
  require_defined(x, kOp, "x");
  require(x.ndim() >= 2, kOp, "x must be [N, C, ...], got " + x.str());
  const int64_t C = x.dim(1);
  require(groups > 0 && C % groups == 0, kOp,
          "channels " + std::to_string(C) + " not divisible into " + std::to_string(groups) + " groups");
  Tensor w = param(weight, C, kOp, "weight", x), b = param(bias, C, kOp, "bias", x);
  Tensor xf = f32(x, kOp);
  Tensor y = Tensor::empty(x.shape());
  const int64_t S = prod(x.shape(), 2, x.ndim());
  if (x.numel() > 0)
    cpu::group_norm(fptr(xf), y.data<float>(), x.dim(0), C, S, groups, ptr_or_null(w), ptr_or_null(b), eps);
  return y;
}

}  // namespace wan22::ops
