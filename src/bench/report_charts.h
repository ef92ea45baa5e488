// What the report charts show, shared by the HTML and Markdown renderers.
#pragma once
#include <string>
#include <vector>

#include "bench/report.h"
#include "bench/svg_chart.h"

namespace wan22::bench {

// The stage chart: the stages of the main workload, then model loading (once per job) when
// measured. Without stages (the GPU workloads), every timing metric, longest first.
struct StageChart {
  std::string title;
  std::vector<Bar> bars;
};
StageChart stage_chart(const RunRecord& run);

// The history chart points of one metric (the current run highlighted).
std::vector<LinePoint> history_points(const std::vector<HistoryPoint>& h, int64_t current_run_id);

}  // namespace wan22::bench
