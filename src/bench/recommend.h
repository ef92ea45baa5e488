// Recommendations computed from a run's numbers. Each one states the measurement behind it
// (`evidence`); nothing is said that the numbers of this run (or its comparison) do not show.
#pragma once
#include <string>
#include <vector>

#include "bench/compare.h"
#include "bench/run_record.h"
#include "bench/targets.h"

namespace wan22::bench {

struct Recommendation {
  std::string topic;     // "stage", "threads", "noise", "target", "loading", "memory", "regression"
  std::string text;      // what to do
  std::string evidence;  // the numbers behind it
};

struct RecommendInputs {
  const RunRecord* run = nullptr;
  const std::vector<TargetCheck>* targets = nullptr;   // may be null
  const std::vector<MetricChange>* changes = nullptr;  // may be null (no --compare)
  std::string baseline_name;
  int hardware_threads = 0;  // logical CPUs the process may use
};

std::vector<Recommendation> recommend(const RecommendInputs& in);

}  // namespace wan22::bench
