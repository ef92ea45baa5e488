// Activations (GELU tanh/erf, SiLU) and softmax.
#include "ops/ops.h"
#include "ops/op_util.h"

namespace wan22::ops {

using namespace detail;

namespace {
Tensor apply_unary(const Tensor& x, cpu::Unary op, const char* name, float p0 = 0.f, float p1 = 0.f) {
  require_defined(x, name, "x");
  Tensor xf = f32(x, name);
  Tensor y = Tensor::empty(x.shape());
  cpu::unary(op, fptr(xf), y.data<float>(), x.numel(), p0, p1);
  return y;
}
}  // namespace

Tensor gelu_tanh(const Tensor& x) { return apply_unary(x, cpu::Unary::kGeluTanh, "gelu_tanh"); }
Tensor gelu_erf(const Tensor& x) { return apply_unary(x, cpu::Unary::kGeluErf, "gelu_erf"); }
Tensor silu(const Tensor& x) { return apply_unary(x, cpu::Unary::kSilu, "silu"); }

Tensor softmax(const Tensor& x, int dim) {
  constexpr const char* kOp = "softmax";
  require_defined(x, kOp, "x");
  require(x.ndim() >= 1, kOp, "x must have at least one dim, got " + x.str());
  const int d = norm_dim(dim, x.ndim(), kOp);
  Tensor xf = f32(x, kOp);
  Tensor y = Tensor::empty(x.shape());
  if (x.numel() > 0)
    cpu::softmax(fptr(xf), y.data<float>(), prod(x.shape(), 0, d), x.shape()[d], prod(x.shape(), d + 1, x.ndim()));
  return y;
}

// Elementwise unary maps (declared in ops.h under "elementwise").
Tensor neg(const Tensor& x) { return apply_unary(x, cpu::Unary::kNeg, "neg"); }
Tensor exp(const Tensor& x) { return apply_unary(x, cpu::Unary::kExp, "exp"); }
Tensor log(const Tensor& x) { return apply_unary(x, cpu::Unary::kLog, "log"); }
Tensor sqrt(const Tensor& x) { return apply_unary(x, cpu::Unary::kSqrt, "sqrt"); }
Tensor rsqrt(const Tensor& x) { return apply_unary(x, cpu::Unary::kRsqrt, "rsqrt"); }
Tensor tanh(const Tensor& x) { return apply_unary(x, cpu::Unary::kTanh, "tanh"); }
Tensor sigmoid(const Tensor& x) { return apply_unary(x, cpu::Unary::kSigmoid, "sigmoid"); }
Tensor abs(const Tensor& x) { return apply_unary(x, cpu::Unary::kAbs, "abs"); }
Tensor sin(const Tensor& x) { return apply_unary(x, cpu::Unary::kSin, "sin"); }
Tensor cos(const Tensor& x) { return apply_unary(x, cpu::Unary::kCos, "cos"); }
Tensor add_scalar(const Tensor& a, float s) { return apply_unary(a, cpu::Unary::kAddScalar, "add_scalar", s); }
Tensor mul_scalar(const Tensor& a, float s) { return apply_unary(a, cpu::Unary::kMulScalar, "mul_scalar", s); }
Tensor clamp(const Tensor& x, float lo, float hi) {
  require(!(lo > hi), "clamp", "lo " + std::to_string(lo) + " > hi " + std::to_string(hi));
  return apply_unary(x, cpu::Unary::kClamp, "clamp", lo, hi);
}

}  // namespace wan22::ops
