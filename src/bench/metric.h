// One measured quantity of a benchmark run. Every benchmark (the CPU suite, the CUDA workloads of
// `wan22 bench`, the memory-budget runs) reports a list of these; the results database, the
// comparison and the reports read nothing else.
#pragma once
#include <string>
#include <vector>

namespace wan22::bench {

enum class Better { kLower, kHigher };

struct Metric {
  std::string name;    // stable identifier, e.g. "dit_forward_720p_121f_s"
  double value = 0.0;  // the reported value (the median of `samples` for timings)
  std::string unit;    // "s", "GiB", "TFLOP/s", "frames/s", ...
  Better better = Better::kLower;
  std::vector<double> samples;  // the individual measurements behind `value` (may be empty)
  std::string note;             // how it was measured (workload, warm-up, weights), free text
};

// The median of `v` (mean of the two middle values for an even count); NaN when empty.
double median(std::vector<double> v);

// The metric named `name` in `v`, or nullptr.
const Metric* find_metric(const std::vector<Metric>& v, const std::string& name);

// Builds a timing metric (unit "s", lower is better) whose value is the median of `samples`.
Metric timing_metric(const std::string& name, const std::vector<double>& samples,
                     const std::string& note = {});

}  // namespace wan22::bench
