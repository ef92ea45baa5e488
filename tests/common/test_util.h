// Helpers shared by the tests: fixture directories, random tensors, error metrics.
#pragma once
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace wan22::test {

// $WAN22_GOLDEN, else <source>/../shared/testdata/golden.
std::string golden_dir();
// $WAN22_GOLDEN_DIFFUSERS, else <source>/../shared/testdata/diffusers.
std::string diffusers_dir();
std::string source_dir();
// A fresh temporary directory (removed by the OS /tmp policy; unique per call).
std::string temp_dir();

// Uniform in [lo, hi) from a fixed-seed generator (never all zeros).
Tensor random_tensor(const Shape& shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

// ||got - ref|| / ||ref|| in double; NaN/Inf in got gives +inf.
double rel_err(const Tensor& got, const Tensor& ref);
double max_abs_diff(const Tensor& a, const Tensor& b);
// Cosine similarity of two tensors of the same element count (in double).
double cosine(const Tensor& a, const Tensor& b);

}  // namespace wan22::test
