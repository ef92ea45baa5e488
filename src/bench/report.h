// Everything one `wan22 bench` invocation reports, and its renderings: terminal text, JSON,
// self-contained HTML (inline CSS and SVG, no network) and Markdown.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/compare.h"
#include "bench/predicted_peaks.h"
#include "bench/recommend.h"
#include "bench/results_db.h"
#include "bench/run_record.h"
#include "bench/targets.h"

namespace wan22::bench {

struct Comparison {
  std::string baseline_name;
  RunRecord baseline;
  std::vector<MetricChange> changes;
  std::vector<std::string> warnings;  // e.g. "the baseline ran on another machine"
};

struct BenchReport {
  RunRecord run;
  std::vector<TargetCheck> targets;
  std::vector<Recommendation> recommendations;
  std::optional<Comparison> comparison;
  // Per metric of the run: its stored history (same machine, suite, device and model), oldest
  // first.
  std::map<std::string, std::vector<HistoryPoint>> history;
  std::vector<std::string> notes;  // shown under the title (demo model, noise, ...)
  // The memory model's peak VRAM against each measured peak of the GPU workloads (predicted_peaks.h).
  std::vector<PeakCheck> peak_checks;
};

// Warnings when a comparison mixes different conditions (machine, suite, model, device, threads).
std::vector<std::string> comparison_warnings(const RunRecord& current, const RunRecord& baseline);

std::string report_text(const BenchReport& r);
nlohmann::ordered_json report_json(
    const BenchReport& r);  // run_to_json plus targets, recommendations, comparison
std::string report_html(const BenchReport& r);
std::string report_markdown(const BenchReport& r);

// Formatting shared by the renderers.
std::string format_value(double v, const std::string& unit);  // "1.23 s", "45.6 ms", "0.52 GiB"
std::string format_percent(double frac, bool sign = true);    // "+12.3%"

}  // namespace wan22::bench
