#include "bench/report_charts.h"

#include <algorithm>

namespace wan22::bench {

StageChart stage_chart(const RunRecord& run) {
  StageChart c;
  if (!run.stages.empty()) {
    c.title = run.stages_of.empty() ? "Time per stage" : "Time per stage of " + run.stages_of;
    for (const auto& s : run.stages) c.bars.push_back({s.name, s.seconds, "#3b6fb6"});
    if (const Metric* load = run.find("model_load_s"))
      c.bars.push_back({"model load (once)", load->value, "#8a8f98"});
    return c;
  }
  c.title = "Time per workload";
  for (const auto& m : run.metrics)
    if (m.unit == "s") c.bars.push_back({m.name, m.value, "#3b6fb6"});
  std::stable_sort(c.bars.begin(), c.bars.end(),
                   [](const Bar& a, const Bar& b) { return a.value > b.value; });
  return c;
}

std::vector<LinePoint> history_points(const std::vector<HistoryPoint>& h, int64_t current_run_id) {
  std::vector<LinePoint> pts;
  for (const auto& p : h) {
    LinePoint lp;
    lp.label = "run " + std::to_string(p.run_id) + " (" + p.revision + ", " +
               std::to_string(p.threads) + "t)";
    lp.value = p.value;
    lp.band = p.band;
    lp.highlight = p.run_id == current_run_id;
    pts.push_back(lp);
  }
  return pts;
}

}  // namespace wan22::bench
