#include "bench/stats.h"

#include <algorithm>
#include <cmath>

namespace wan22::bench {

Spread spread_of(const std::vector<double>& samples) {
  Spread s;
  s.n = samples.size();
  if (samples.empty()) return s;
  s.median = median(samples);
  auto [lo, hi] = std::minmax_element(samples.begin(), samples.end());
  s.min = *lo;
  s.max = *hi;
  std::vector<double> dev;
  dev.reserve(samples.size());
  for (double x : samples) dev.push_back(std::fabs(x - s.median));
  s.mad = median(dev);
  if (s.n >= 2 && s.median != 0) {
    s.rel_mad = s.mad / std::fabs(s.median);
    s.rel_spread = (s.max - s.min) / std::fabs(s.median);
  }
  return s;
}

double noise_band(const Metric& m) { return 0.5 * spread_of(m.samples).rel_spread; }

}  // namespace wan22::bench
