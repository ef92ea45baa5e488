// The Markdown rendering of a benchmark report (`--report FILE.md`).
#include <algorithm>
#include <cmath>
#include <sstream>

#include "bench/report.h"
#include "bench/report_charts.h"
#include "bench/stats.h"

namespace wan22::bench {

namespace {

// Table cells: no pipes or newlines.
std::string cell(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  std::string o;
  for (char c : s) {
    if (c == '|')
      o += "\\|";
    else
      o += c;
  }
  return o;
}

std::string text_bar(double v, double maxv, int width) {
  if (!(maxv > 0) || !std::isfinite(v)) return "";
  const int n = std::max(1, static_cast<int>(std::lround(width * v / maxv)));
  std::string s;
  for (int i = 0; i < n; ++i) s += "\u2588";
  return s;
}

}  // namespace

std::string report_markdown(const BenchReport& r) {
  const RunRecord& run = r.run;
  const Machine& m = run.machine;
  std::ostringstream o;
  o << "# wan22 bench report\n\n";
  o << "Suite **" << run.suite << "** on " << run.device << ", revision `" << run.revision << "`, "
    << run.date << ".\n\n";
  for (const auto& n : r.notes) o << "> " << n << "\n\n";

  o << "## Run\n\n| | |\n| --- | --- |\n";
  o << "| model | " << cell(run.model) << " |\n";
  o << "| CPU | " << cell(m.cpu) << " (" << m.logical_cores << " logical, " << m.physical_cores
    << " physical) |\n";
  o << "| threads | " << run.threads << " |\n";
  o << "| RAM | " << format_value(static_cast<double>(m.ram_bytes) / (1ull << 30), "GiB") << " |\n";
  o << "| GPU | "
    << cell(m.gpu.empty()
                ? "none"
                : m.gpu + " (driver " + m.driver + (m.cuda.empty() ? "" : ", CUDA " + m.cuda) + ")")
    << " |\n";
  o << "| OS | " << cell(m.os) << " |\n";
  o << "| machine fingerprint | `" << m.fingerprint() << "` |\n";
  if (run.id > 0) o << "| run id | " << run.id << " |\n";

  const StageChart sc = stage_chart(run);
  o << "\n## " << sc.title << "\n\n| stage | time | |\n| --- | ---: | --- |\n";
  double maxv = 0;
  for (const auto& b : sc.bars) maxv = std::max(maxv, std::isfinite(b.value) ? b.value : 0.0);
  for (const auto& b : sc.bars)
    o << "| " << cell(b.label) << " | " << format_value(b.value, "s") << " | "
      << text_bar(b.value, maxv, 30) << " |\n";

  o << "\n## Metrics\n\nMedian of the samples; noise band = half their min-max spread.\n\n"
       "| metric | value | noise | samples | note |\n| --- | ---: | ---: | ---: | --- |\n";
  for (const auto& met : run.metrics) {
    o << "| " << cell(met.name) << " | " << format_value(met.value, met.unit) << " | "
      << (met.samples.size() >= 2 ? "±" + format_percent(noise_band(met), false) : "-") << " | "
      << met.samples.size() << " | " << cell(met.note) << " |\n";
  }

  o << "\n## Targets\n\n| target | measured | target | result | guide baseline | vs baseline |\n"
       "| --- | ---: | ---: | --- | ---: | ---: |\n";
  for (const auto& t : r.targets) {
    const bool measured = t.status != TargetStatus::kNotMeasured;
    o << "| " << cell(t.spec.key) << " | " << (measured ? format_value(t.value, t.spec.unit) : "-")
      << " | <= " << format_value(t.spec.target, t.spec.unit) << " | **"
      << target_status_name(t.status) << "** | " << format_value(t.spec.baseline, t.spec.unit)
      << " | " << (measured ? format_percent(t.vs_baseline, false) + " better" : "-") << " |\n";
  }
  for (const auto& t : r.targets)
    if (!t.note.empty()) o << "\n- " << t.spec.key << ": " << t.note;
  o << "\n";

  if (!r.peak_checks.empty()) {
    o << "\n## Predicted vs measured peak VRAM\n\nThe memory model (src/plan) for each GPU workload's plan; "
         "a check fails beyond "
      << format_percent(r.peak_checks.front().tolerance, false)
      << ".\n\n| workload | metric | predicted | measured | error | result |\n| --- | --- | ---: | ---: | ---: | --- |\n";
    for (const auto& c : r.peak_checks)
      o << "| " << cell(c.label) << " | " << cell(c.metric) << " | " << format_value(c.predicted_gib, "GiB") << " | "
        << format_value(c.measured_gib, "GiB") << " | " << format_percent(c.error()) << " | **"
        << (c.pass() ? "pass" : "fail") << "** |\n";
    for (const auto& c : r.peak_checks) o << "\n- " << c.line();
    o << "\n";
  }

  if (r.comparison) {
    const Comparison& c = *r.comparison;
    o << "\n## Comparison with baseline '" << c.baseline_name << "'\n\nBaseline run "
      << c.baseline.id << ", " << c.baseline.date << ", revision `" << c.baseline.revision << "`, "
      << c.baseline.threads << " threads: " << count_verdict(c.changes, Verdict::kRegression)
      << " regression(s), " << count_verdict(c.changes, Verdict::kImprovement)
      << " improvement(s).\n\n";
    for (const auto& w : c.warnings) o << "> warning: " << w << "\n\n";
    o << "| metric | baseline | now | change | threshold | verdict |\n| --- | ---: | ---: | ---: | "
         "---: | --- |\n";
    for (const auto& ch : c.changes) {
      const bool both = ch.has_baseline && ch.has_current;
      o << "| " << cell(ch.name) << " | "
        << (ch.has_baseline ? format_value(ch.baseline, ch.unit) : "-") << " | "
        << (ch.has_current ? format_value(ch.current, ch.unit) : "-") << " | "
        << (both ? format_percent(ch.change) : "-") << " | "
        << (both ? "±" + format_percent(ch.threshold, false) : "-") << " | "
        << verdict_name(ch.verdict) << " |\n";
    }
  }

  o << "\n## Recommendations\n\n";
  if (r.recommendations.empty()) o << "None: no measurement of this run calls for one.\n";
  for (const auto& rec : r.recommendations) o << "- " << rec.text << " (" << rec.evidence << ")\n";

  o << "\n## History\n\nStored runs on this machine with the same suite, device and model (oldest "
       "first).\n";
  for (const auto& met : run.metrics) {
    auto it = r.history.find(met.name);
    if (it == r.history.end() || it->second.empty()) continue;
    o << "\n### " << met.name
      << "\n\n| run | date | revision | threads | value | noise |\n"
         "| ---: | --- | --- | ---: | ---: | ---: |\n";
    for (const auto& p : it->second) {
      o << "| " << p.run_id << (p.run_id == run.id ? " (this)" : "") << " | " << p.date << " | `"
        << p.revision << "` | " << p.threads << " | " << format_value(p.value, met.unit) << " | ±"
        << format_percent(p.band, false) << " |\n";
    }
  }
  return o.str();
}

}  // namespace wan22::bench
