// The HTML rendering of a benchmark report: one self-contained page (inline CSS, inline SVG).
#include <sstream>

#include "bench/report.h"
#include "bench/report_charts.h"
#include "bench/stats.h"
#include "bench/svg_chart.h"

namespace wan22::bench {

namespace {

const char* kCss = R"CSS(
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px 32px; color: #1d2330;
       background: #ffffff; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #d8dde6; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 14px 0 4px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #d8dde6; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { background: #d3f9d8; color: #1b5e20; font-weight: bold; }
.fail { background: #ffe3e3; color: #a61e1e; font-weight: bold; }
.regression { background: #ffe3e3; color: #a61e1e; font-weight: bold; }
.improvement { background: #d3f9d8; color: #1b5e20; font-weight: bold; }
.muted { color: #6b7280; }
.note { background: #fff8db; border-left: 4px solid #f2c94c; padding: 6px 10px; margin: 6px 0; font-size: 13px; }
.charts { display: flex; flex-wrap: wrap; gap: 18px; }
.charts figure { margin: 0; border: 1px solid #e3e7ee; padding: 8px; background: #fbfcfe; }
svg text { fill: #1d2330; font-family: inherit; }
)CSS";

std::string esc(const std::string& s) { return xml_escape(s); }

void machine_table(std::ostringstream& o, const RunRecord& run) {
  const Machine& m = run.machine;
  auto row = [&](const std::string& k, const std::string& v) {
    o << "<tr><th>" << esc(k) << "</th><td>" << esc(v) << "</td></tr>\n";
  };
  o << "<table id=\"run-info\">\n";
  row("suite", run.suite);
  row("device", run.device);
  row("model", run.model);
  row("revision", run.revision);
  row("date", run.date);
  row("CPU", m.cpu + " (" + std::to_string(m.logical_cores) + " logical, " +
                 std::to_string(m.physical_cores) + " physical cores)");
  row("threads", std::to_string(run.threads));
  row("RAM", format_value(static_cast<double>(m.ram_bytes) / (1ull << 30), "GiB"));
  row("GPU", m.gpu.empty() ? "none"
                           : m.gpu + " (driver " + m.driver +
                                 (m.cuda.empty() ? "" : ", CUDA " + m.cuda) + ")");
  row("OS", m.os);
  row("machine fingerprint", m.fingerprint());
  if (run.id > 0) row("run id", std::to_string(run.id));
  o << "</table>\n";
}

void metrics_table(std::ostringstream& o, const RunRecord& run) {
  o << "<table id=\"metrics\">\n<tr><th>metric</th><th>value</th><th>noise "
       "band</th><th>samples</th>"
       "<th>better</th><th>how measured</th></tr>\n";
  for (const auto& m : run.metrics) {
    std::string samples;
    for (size_t i = 0; i < m.samples.size(); ++i)
      samples += (i ? ", " : "") + format_value(m.samples[i], m.unit);
    o << "<tr><td>" << esc(m.name) << "</td><td class=\"num\">"
      << esc(format_value(m.value, m.unit)) << "</td><td class=\"num\">"
      << (m.samples.size() >= 2 ? "&plusmn;" + esc(format_percent(noise_band(m), false))
                                : "&ndash;")
      << "</td><td>" << esc(samples) << "</td><td>" << better_name(m.better)
      << "</td><td class=\"muted\">" << esc(m.note) << "</td></tr>\n";
  }
  o << "</table>\n";
}

void targets_table(std::ostringstream& o, const std::vector<TargetCheck>& targets) {
  o << "<table id=\"targets\">\n<tr><th>target</th><th>metric</th><th>measured</th><th>target</th>"
       "<th>result</th><th>guide baseline</th><th>vs baseline</th><th>note</th></tr>\n";
  for (const auto& t : targets) {
    const bool measured = t.status != TargetStatus::kNotMeasured;
    const char* cls = t.status == TargetStatus::kPass   ? "pass"
                      : t.status == TargetStatus::kFail ? "fail"
                                                        : "muted";
    o << "<tr><td>" << esc(t.spec.label) << " <span class=\"muted\">(" << esc(t.spec.key)
      << ")</span></td><td>" << esc(t.metric) << "</td><td class=\"num\">"
      << (measured ? esc(format_value(t.value, t.spec.unit)) : "&ndash;")
      << "</td><td class=\"num\">&le; " << esc(format_value(t.spec.target, t.spec.unit))
      << "</td><td class=\"" << cls << "\">" << target_status_name(t.status)
      << "</td><td class=\"num\">" << esc(format_value(t.spec.baseline, t.spec.unit))
      << "</td><td class=\"num\">"
      << (measured ? esc(format_percent(t.vs_baseline, false)) + " better" : "&ndash;")
      << "</td><td class=\"muted\">" << esc(t.note) << "</td></tr>\n";
  }
  o << "</table>\n";
}

void comparison_table(std::ostringstream& o, const Comparison& c) {
  o << "<p>Baseline <b>" << esc(c.baseline_name) << "</b>: run " << c.baseline.id << ", "
    << esc(c.baseline.date) << ", revision " << esc(c.baseline.revision) << ", "
    << c.baseline.threads << " threads. " << count_verdict(c.changes, Verdict::kRegression)
    << " regression(s), " << count_verdict(c.changes, Verdict::kImprovement)
    << " improvement(s).</p>\n";
  for (const auto& w : c.warnings) o << "<div class=\"note\">" << esc(w) << "</div>\n";
  o << "<table id=\"comparison\">\n<tr><th>metric</th><th>baseline</th><th>now</th><th>change</th>"
       "<th>threshold</th><th>verdict</th></tr>\n";
  for (const auto& ch : c.changes) {
    const bool both = ch.has_baseline && ch.has_current;
    o << "<tr><td>" << esc(ch.name) << "</td><td class=\"num\">"
      << (ch.has_baseline ? esc(format_value(ch.baseline, ch.unit)) : "&ndash;")
      << "</td><td class=\"num\">"
      << (ch.has_current ? esc(format_value(ch.current, ch.unit)) : "&ndash;")
      << "</td><td class=\"num\">" << (both ? esc(format_percent(ch.change)) : "&ndash;")
      << "</td><td class=\"num\">"
      << (both ? "&plusmn;" + esc(format_percent(ch.threshold, false)) : "&ndash;")
      << "</td><td class=\"" << verdict_name(ch.verdict) << "\">" << verdict_name(ch.verdict)
      << "</td></tr>\n";
  }
  o << "</table>\n";
}

}  // namespace

std::string report_html(const BenchReport& r) {
  const RunRecord& run = r.run;
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<title>wan22 bench: " << esc(run.suite) << " suite, " << esc(run.date)
    << "</title>\n<style>" << kCss << "</style>\n</head>\n<body>\n";
  o << "<h1>wan22 bench report</h1>\n<p class=\"muted\">suite " << esc(run.suite) << " on "
    << esc(run.device) << ", revision " << esc(run.revision) << ", " << esc(run.date) << "</p>\n";
  for (const auto& n : r.notes) o << "<div class=\"note\">" << esc(n) << "</div>\n";

  o << "<section id=\"run\">\n<h2>Run</h2>\n";
  machine_table(o, run);
  o << "</section>\n";

  const StageChart sc = stage_chart(run);
  o << "<section id=\"stages\">\n<h2>" << esc(sc.title) << "</h2>\n<figure>"
    << svg_bar_chart(sc.title, sc.bars, "s") << "</figure>\n</section>\n";

  o << "<section id=\"metrics-section\">\n<h2>Metrics</h2>\n<p class=\"muted\">Each value is the "
       "median of its "
       "samples; the noise band is half their min&ndash;max spread.</p>\n";
  metrics_table(o, run);
  o << "</section>\n";

  o << "<section id=\"targets-section\">\n<h2>Targets</h2>\n<p class=\"muted\">config sections "
       "performance_targets "
       "(pass when measured &le; target) and performance_baseline (the guide's unoptimized "
       "numbers).</p>\n";
  targets_table(o, r.targets);
  o << "</section>\n";

  if (!r.peak_checks.empty()) {
    o << "<section id=\"peak-predictions\">\n<h2>Predicted vs measured peak VRAM</h2>\n<p class=\"muted\">The "
         "memory model (src/plan) for each GPU workload's plan; a check fails beyond "
      << esc(format_percent(r.peak_checks.front().tolerance, false)) << ".</p>\n"
      << "<table id=\"peaks\">\n<tr><th>workload</th><th>metric</th><th>predicted</th><th>measured</th>"
         "<th>error</th><th>result</th></tr>\n";
    for (const auto& c : r.peak_checks)
      o << "<tr><td>" << esc(c.label) << "</td><td>" << esc(c.metric) << "</td><td class=\"num\">"
        << esc(format_value(c.predicted_gib, "GiB")) << "</td><td class=\"num\">"
        << esc(format_value(c.measured_gib, "GiB")) << "</td><td class=\"num\">" << esc(format_percent(c.error()))
        << "</td><td class=\"" << (c.pass() ? "pass" : "fail") << "\">" << (c.pass() ? "pass" : "fail")
        << "</td></tr>\n";
    o << "</table>\n</section>\n";
  }

  if (r.comparison) {
    o << "<section id=\"comparison-section\">\n<h2>Comparison with baseline '"
      << esc(r.comparison->baseline_name) << "'</h2>\n";
    comparison_table(o, *r.comparison);
    o << "</section>\n";
  }

  o << "<section id=\"recommendations\">\n<h2>Recommendations</h2>\n";
  if (r.recommendations.empty())
    o << "<p class=\"muted\">none: no measurement of this run calls for one.</p>\n";
  else {
    o << "<ul>\n";
    for (const auto& rec : r.recommendations)
      o << "<li>" << esc(rec.text) << "<br><span class=\"muted\">" << esc(rec.evidence)
        << "</span></li>\n";
    o << "</ul>\n";
  }
  o << "</section>\n";

  o << "<section id=\"history\">\n<h2>History</h2>\n<p class=\"muted\">Stored runs on this machine "
       "with the same "
       "suite, device and model, oldest first; error bars are each run's noise band; the orange "
       "point is this "
       "run.</p>\n<div class=\"charts\">\n";
  for (const auto& m : run.metrics) {
    auto it = r.history.find(m.name);
    if (it == r.history.end()) continue;
    o << "<figure>"
      << svg_line_chart(m.name + " (" + m.unit + ")", history_points(it->second, run.id), m.unit)
      << "</figure>\n";
  }
  o << "</div>\n</section>\n</body>\n</html>\n";
  return o.str();
}

}  // namespace wan22::bench
