#include "bench/metric.h"

#include <algorithm>
#include <limits>

namespace wan22::bench {

double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Metric timing_metric(const std::string& name, const std::vector<double>& samples,
                     const std::string& note) {
  Metric m;
  m.name = name;
  m.value = median(samples);
  m.unit = std::string("s");  // not operator=(const char*): gcc 12 -Wrestrict false positive
  m.better = Better::kLower;
  m.samples = samples;
  m.note = note;
  return m;
}

const Metric* find_metric(const std::vector<Metric>& v, const std::string& name) {
  for (const auto& m : v)
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace wan22::bench
