// Shared helpers for the op tests: double-precision views of tensors and a relative-error check.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "test_util.h"

namespace wan22::test {

// All elements (row-major over the view) as double.
inline std::vector<double> as_double(const Tensor& t) {
  std::vector<float> f = t.to_vector();
  return std::vector<double>(f.begin(), f.end());
}

// ||got - ref|| / ||ref|| against a double reference.
inline double rel_err_ref(const Tensor& got, const std::vector<double>& ref) {
  std::vector<float> g = got.to_vector();
  if (g.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double num = 0, den = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (!std::isfinite(g[i])) return std::numeric_limits<double>::infinity();
    const double d = g[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  if (den == 0) return num == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(num / den);
}

// Relative error of got against a double reference; gtest prints the measured value on failure.
#define EXPECT_REL_CLOSE(got, ref, tol) EXPECT_LE(::wan22::test::rel_err_ref((got), (ref)), (tol))

// Fills a tensor of `shape` with a not-all-zero ramp-free pattern (random, fixed seed).
inline Tensor rnd(const Shape& shape, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  return random_tensor(shape, seed, lo, hi);
}

}  // namespace wan22::test
