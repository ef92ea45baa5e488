// Reductions: sum/mean/amax over one dim; whole-tensor sums and the relative-error metric.
#include <cmath>
#include <limits>

#include "core/thread_pool.h"
#include "ops/ops.h"
#include "ops/op_util.h"

namespace wan22::ops {

using namespace detail;

namespace {
Tensor reduce_dim(const Tensor& x, int dim, bool keepdim, cpu::Reduce op, const char* name) {
  require_defined(x, name, "x");
  require(x.ndim() >= 1, name, "x must have at least one dim, got " + x.str());
  const int d = norm_dim(dim, x.ndim(), name);
  if (op == cpu::Reduce::kMax) require(x.shape()[d] > 0, name, "empty dim in " + x.str());
  Tensor xf = f32(x, name);
  Shape out_shape = x.shape();
  if (keepdim) out_shape[d] = 1;
  else out_shape.erase(out_shape.begin() + d);
  Tensor y = Tensor::empty(out_shape);
  const int64_t outer = prod(x.shape(), 0, d), inner = prod(x.shape(), d + 1, x.ndim());
  if (y.numel() > 0) cpu::reduce(op, fptr(xf), y.data<float>(), outer, x.shape()[d], inner);
  return y;
}

// Deterministic parallel sum of f(i) over [0, n) in double.
template <class F>
double parallel_sum(int64_t n, F f) {
  constexpr int64_t kBlocks = 64;
  std::vector<double> part(kBlocks, 0.0);
  const int64_t per = (n + kBlocks - 1) / kBlocks;
  parallel_for(0, kBlocks, 1, [&](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) {
      double s = 0.0;
      const int64_t lo = blk * per, hi = std::min(n, lo + per);
      for (int64_t i = lo; i < hi; ++i) s += f(i);
      part[blk] = s;
    }
  });
  double s = 0.0;
  for (double v : part) s += v;
  return s;
}
}  // namespace

Tensor sum(const Tensor& x, int dim, bool keepdim) { return reduce_dim(x, dim, keepdim, cpu::Reduce::kSum, "sum"); }
Tensor mean(const Tensor& x, int dim, bool keepdim) { return reduce_dim(x, dim, keepdim, cpu::Reduce::kMean, "mean"); }
Tensor amax(const Tensor& x, int dim, bool keepdim) { return reduce_dim(x, dim, keepdim, cpu::Reduce::kMax, "amax"); }

double sum_all(const Tensor& x) {
  require_defined(x, "sum_all", "x");
  Tensor xf = f32(x, "sum_all");
  const float* p = fptr(xf);
  return parallel_sum(x.numel(), [p](int64_t i) { return static_cast<double>(p[i]); });
}

double max_abs(const Tensor& x) {
  require_defined(x, "max_abs", "x");
  Tensor xf = f32(x, "max_abs");
  const float* p = fptr(xf);
  double m = 0.0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double v = std::fabs(static_cast<double>(p[i]));
    if (!(v <= m)) m = v;  // NaN propagates
  }
  return m;
}

double rel_error(const Tensor& got, const Tensor& ref) {
  constexpr const char* kOp = "rel_error";
  require_defined(got, kOp, "got");
  require_defined(ref, kOp, "ref");
  require(got.numel() == ref.numel(), kOp, "sizes differ: got " + got.str() + ", ref " + ref.str());
  Tensor gf = f32(got, kOp), rf = f32(ref, kOp);
  const float* g = fptr(gf);
  const float* r = fptr(rf);
  const int64_t n = got.numel();
  const double num = parallel_sum(n, [&](int64_t i) {
    const double d = static_cast<double>(g[i]) - r[i];
    return d * d;
  });
  const double den = parallel_sum(n, [&](int64_t i) { return static_cast<double>(r[i]) * r[i]; });
  if (std::isnan(num)) return std::numeric_limits<double>::infinity();
  if (den == 0) return num == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(num / den);
}

}  // namespace wan22::ops
