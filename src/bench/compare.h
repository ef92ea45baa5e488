// Comparison of a run against a stored baseline, metric by metric.
//
// For each metric present in both: change = (current - baseline) / |baseline|. The threshold is
//   max(min_change, band(current) + band(baseline))
// where band() is the noise band of stats.h (half the relative min-max spread of the repeats). A
// change worse than the threshold (slower for lower-is-better metrics, less for higher-is-better)
// is a regression, a change better than it an improvement, anything inside it unchanged: a
// difference smaller than what the repeats themselves scatter by is not called either way.
#pragma once
#include <string>
#include <vector>

#include "bench/metric.h"

namespace wan22::bench {

enum class Verdict { kUnchanged, kRegression, kImprovement, kNew, kMissing };
const char* verdict_name(Verdict v);  // "unchanged" "regression" "improvement" "new" "missing"

struct MetricChange {
  std::string name;
  std::string unit;
  Better better = Better::kLower;
  bool has_baseline = false, has_current = false;
  double baseline = 0, current = 0;
  double change = 0;     // relative, (current - baseline) / |baseline|; 0 when either is absent
  double threshold = 0;  // relative; the change must exceed it to count
  double band_baseline = 0, band_current = 0;
  Verdict verdict = Verdict::kUnchanged;
};

struct CompareOptions {
  double min_change = 0.05;  // never call a change below 5% a regression or an improvement
};

// Metrics in `current` order, then those only in the baseline (kMissing).
std::vector<MetricChange> compare_metrics(const std::vector<Metric>& current,
                                          const std::vector<Metric>& baseline,
                                          const CompareOptions& opt = {});

size_t count_verdict(const std::vector<MetricChange>& changes, Verdict v);

}  // namespace wan22::bench
