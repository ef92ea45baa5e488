// Scalar pieces shared by the multistep solvers, in float32 like the reference (its sigmas are a
// float32 tensor, so every coefficient is computed on 0-d float32 tensors).
#pragma once
#include <cmath>

namespace wan22::sched {

// Flow matching: alpha = 1 - sigma; lambda = log(alpha) - log(sigma) (+inf at sigma 0).
inline float flow_lambda(float sigma) {
  const float alpha = 1.0f - sigma;
  return std::log(alpha) - std::log(sigma);
}

// expm1 rounded once to float32 (computed in double): the reference's torch.expm1 on a 0-d
// float32 tensor lands on this value more often than float expm1 does.
inline float expm1_f32(float x) {
  return static_cast<float>(std::expm1(static_cast<double>(x)));
}

}  // namespace wan22::sched
