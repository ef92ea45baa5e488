// The JSON rendering of a benchmark report (`wan22 bench --json FILE`).
#include <cmath>

#include "bench/record_json.h"
#include "bench/report.h"

namespace wan22::bench {

using json = nlohmann::ordered_json;

namespace {
json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
}  // namespace

json report_json(const BenchReport& r) {
  json j = run_to_json(r.run);
  j["notes"] = r.notes;
  json targets = json::array();
  for (const auto& t : r.targets) {
    json o = {{"key", t.spec.key},           {"label", t.spec.label},
              {"unit", t.spec.unit},         {"target", t.spec.target},
              {"baseline", t.spec.baseline}, {"status", target_status_name(t.status)},
              {"metric", t.metric}};
    o["value"] = t.status == TargetStatus::kNotMeasured ? json(nullptr) : num(t.value);
    o["improvement_vs_baseline"] =
        t.status == TargetStatus::kNotMeasured ? json(nullptr) : num(t.vs_baseline);
    o["note"] = t.note;
    targets.push_back(o);
  }
  j["targets"] = targets;
  json peaks = json::array();
  for (const auto& c : r.peak_checks)
    peaks.push_back({{"metric", c.metric},
                     {"workload", c.label},
                     {"predicted_gib", num(c.predicted_gib)},
                     {"measured_gib", num(c.measured_gib)},
                     {"error", num(c.error())},
                     {"tolerance", c.tolerance},
                     {"status", c.pass() ? "pass" : "fail"},
                     {"line", c.line()}});
  j["peak_vram_predictions"] = peaks;
  json recs = json::array();
  for (const auto& rec : r.recommendations)
    recs.push_back({{"topic", rec.topic}, {"text", rec.text}, {"evidence", rec.evidence}});
  j["recommendations"] = recs;
  if (r.comparison) {
    const Comparison& c = *r.comparison;
    json changes = json::array();
    for (const auto& ch : c.changes) {
      changes.push_back(
          {{"name", ch.name},
           {"unit", ch.unit},
           {"better", better_name(ch.better)},
           {"baseline", ch.has_baseline ? num(ch.baseline) : json(nullptr)},
           {"current", ch.has_current ? num(ch.current) : json(nullptr)},
           {"change", ch.has_baseline && ch.has_current ? num(ch.change) : json(nullptr)},
           {"threshold", num(ch.threshold)},
           {"band_baseline", num(ch.band_baseline)},
           {"band_current", num(ch.band_current)},
           {"verdict", verdict_name(ch.verdict)}});
    }
    j["comparison"] = {{"baseline", c.baseline_name},
                       {"baseline_run_id", c.baseline.id},
                       {"baseline_revision", c.baseline.revision},
                       {"baseline_date", c.baseline.date},
                       {"warnings", c.warnings},
                       {"regressions", count_verdict(c.changes, Verdict::kRegression)},
                       {"improvements", count_verdict(c.changes, Verdict::kImprovement)},
                       {"changes", changes}};
  }
  return j;
}

}  // namespace wan22::bench
