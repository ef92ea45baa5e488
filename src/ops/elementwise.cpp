// Broadcasting binary ops, axpby and the in-place add_.
#include "ops/ops.h"
#include "ops/op_util.h"

namespace wan22::ops {

using namespace detail;

namespace {
Tensor apply_binary(const Tensor& a, const Tensor& b, cpu::Binary op, const char* name) {
  require_defined(a, name, "a");
  require_defined(b, name, "b");
  const Shape out_shape = broadcast_shape(a.shape(), b.shape(), name);
  Tensor af = f32(a, name), bf = f32(b, name);
  Tensor y = Tensor::empty(out_shape);
  cpu::binary(op, fptr(af), broadcast_strides(a.shape(), out_shape), fptr(bf),
              broadcast_strides(b.shape(), out_shape), y.data<float>(), out_shape);
  return y;
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return apply_binary(a, b, cpu::Binary::kAdd, "add"); }
Tensor sub(const Tensor& a, const Tensor& b) { return apply_binary(a, b, cpu::Binary::kSub, "sub"); }
Tensor mul(const Tensor& a, const Tensor& b) { return apply_binary(a, b, cpu::Binary::kMul, "mul"); }
Tensor div(const Tensor& a, const Tensor& b) { return apply_binary(a, b, cpu::Binary::kDiv, "div"); }
Tensor maximum(const Tensor& a, const Tensor& b) { return apply_binary(a, b, cpu::Binary::kMax, "maximum"); }
Tensor minimum(const Tensor& a, const Tensor& b) { return apply_binary(a, b, cpu::Binary::kMin, "minimum"); }

Tensor axpby(float a, const Tensor& x, float b, const Tensor& y) {
  constexpr const char* kOp = "axpby";
  require_defined(x, kOp, "x");
  require_defined(y, kOp, "y");
  require(x.shape() == y.shape(), kOp, "shapes differ: x " + x.str() + ", y " + y.str());
  Tensor xf = f32(x, kOp), yf = f32(y, kOp);
  Tensor out = Tensor::empty(x.shape());
  cpu::axpby(a, fptr(xf), b, fptr(yf), out.data<float>(), x.numel());
  return out;
}

void add_(Tensor& a, const Tensor& b) {
  constexpr const char* kOp = "add_";
  require_defined(a, kOp, "a");
  require_defined(b, kOp, "b");
  require(a.dtype() == DType::kF32 && a.is_contiguous() && a.device().is_cpu(), kOp,
          "a must be a contiguous f32 CPU tensor, got " + a.str());
  const Shape out_shape = broadcast_shape(a.shape(), b.shape(), kOp);
  require(out_shape == a.shape(), kOp, "b " + b.str() + " does not broadcast to a " + a.str());
  Tensor bf = f32(b, kOp);
  float* pa = a.data<float>();
  // In place is safe: each output element reads only its own a element.
  cpu::binary(cpu::Binary::kAdd, pa, contiguous_strides(a.shape()), fptr(bf),
              broadcast_strides(b.shape(), out_shape), pa, out_shape);
}

}  // namespace wan22::ops
