#include "sched/sigma_schedule.h"

#include <cmath>

#include "core/status.h"

// The reference evaluates these in separate numpy passes: no fused multiply-add here.
#include "sched/no_fp_contract.h"

namespace wan22::sched {

std::vector<double> np_linspace(double start, double stop, int num) {
  WAN22_CHECK(num >= 1, "linspace needs at least one point, got " + std::to_string(num));
  std::vector<double> y(static_cast<size_t>(num));
  if (num == 1) {
    y[0] = start;
    return y;
  }
  const double delta = stop - start;
  const double step = delta / static_cast<double>(num - 1);
  for (int i = 0; i < num; ++i) {
    const double scaled = static_cast<double>(i) * step;
    y[static_cast<size_t>(i)] = scaled + start;
  }
  y.back() = stop;
  return y;
}

std::vector<double> shift_sigmas(const std::vector<double>& sigmas, double shift) {
  std::vector<double> out(sigmas.size());
  for (size_t i = 0; i < sigmas.size(); ++i) {
    const double num = shift * sigmas[i];
    const double den_term = (shift - 1.0) * sigmas[i];
    const double den = 1.0 + den_term;
    out[i] = num / den;
  }
  return out;
}

std::vector<double> unipc_sigmas(int steps, double shift, int num_train_timesteps) {
  // Constructor: sigmas = 1 - linspace(1, 1/T, T)[::-1], stored as float32 (shift 1 is the
  // identity there); sigma_max is its first value, sigma_min its last (exactly 0).
  const double last_alpha = 1.0 / static_cast<double>(num_train_timesteps);
  const double sigma_max = static_cast<double>(static_cast<float>(1.0 - last_alpha));
  const double sigma_min = 0.0;
  std::vector<double> lin = np_linspace(sigma_max, sigma_min, steps + 1);
  lin.pop_back();
  return shift_sigmas(lin, shift);
}

std::vector<double> sampling_sigmas(int steps, double shift) {
  std::vector<double> lin = np_linspace(1.0, 0.0, steps + 1);
  lin.pop_back();
  return shift_sigmas(lin, shift);
}

std::vector<double> sigmas_to_timesteps(const std::vector<double>& sigmas, int num_train_timesteps) {
  std::vector<double> t(sigmas.size());
  for (size_t i = 0; i < sigmas.size(); ++i) {
    const double scaled = sigmas[i] * static_cast<double>(num_train_timesteps);
    t[i] = std::trunc(scaled);
  }
  return t;
}

}  // namespace wan22::sched
