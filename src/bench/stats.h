// Spread of repeated measurements: how much a metric moves between repeats of the same run. The
// comparison (compare.h) uses the noise band to tell a real change from run-to-run noise.
#pragma once
#include <cstddef>
#include <vector>

#include "bench/metric.h"

namespace wan22::bench {

struct Spread {
  size_t n = 0;
  double median = 0, min = 0, max = 0;
  double mad = 0;         // median absolute deviation from the median
  double rel_mad = 0;     // mad / |median| (0 when fewer than 2 samples or median 0)
  double rel_spread = 0;  // (max - min) / |median| (0 when fewer than 2 samples or median 0)
};

Spread spread_of(const std::vector<double>& samples);

// The noise band of a metric: half its relative min-max spread, (max - min) / (2 |median|), so
// `value * (1 +- band)` covers every repeat. 0 for fewer than two samples.
double noise_band(const Metric& m);

}  // namespace wan22::bench
