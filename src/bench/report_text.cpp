// The terminal rendering of a benchmark report.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "bench/report.h"
#include "bench/stats.h"

namespace wan22::bench {

namespace {
std::string pad(const std::string& s, size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}
}  // namespace

std::string report_text(const BenchReport& r) {
  std::ostringstream o;
  const RunRecord& run = r.run;
  o << "wan22 bench: suite " << run.suite << " on " << run.device << " (" << run.threads
    << " CPU threads), model " << run.model << ", revision " << run.revision << ", " << run.date
    << "\n";
  o << "machine: " << run.machine.cpu << ", " << run.machine.logical_cores << " logical CPUs";
  if (!run.machine.gpu.empty())
    o << ", " << run.machine.gpu << " (driver " << run.machine.driver << ")";
  o << " [" << run.machine.fingerprint() << "]\n";
  for (const auto& n : r.notes) o << "note: " << n << "\n";

  size_t w = 6, vw = 5;
  for (const auto& m : run.metrics) {
    w = std::max(w, m.name.size());
    vw = std::max(vw, format_value(m.value, m.unit).size());
  }
  o << "\n" << pad("metric", w + 2) << pad("value", vw + 2) << pad("noise", 10) << "repeats\n";
  for (const auto& m : run.metrics) {
    const double band = noise_band(m);
    o << pad(m.name, w + 2) << pad(format_value(m.value, m.unit), vw + 2)
      << pad(m.samples.size() >= 2 ? "+-" + format_percent(band, false) : "-", 10)
      << m.samples.size() << "\n";
  }

  if (!r.targets.empty()) {
    o << "\ntargets (config performance_targets; improvement against performance_baseline):\n";
    for (const auto& t : r.targets) {
      o << "  " << pad(t.spec.key, 16);
      if (t.status == TargetStatus::kNotMeasured) {
        o << "not measured: " << t.note << "\n";
        continue;
      }
      o << pad(format_value(t.value, t.spec.unit) +
                   " <= " + format_value(t.spec.target, t.spec.unit),
               26)
        << " " << pad(target_status_name(t.status), 5) << "  ("
        << format_percent(t.vs_baseline, false) << " better than the unoptimized "
        << format_value(t.spec.baseline, t.spec.unit) << ")\n";
    }
    for (const auto& t : r.targets) {
      if (!t.note.empty() && t.status != TargetStatus::kNotMeasured) {
        o << "  note: " << t.note << "\n";
        break;
      }
    }
  }

  if (!r.peak_checks.empty()) {
    o << "\nmemory model (issue 7: within " << format_percent(r.peak_checks.front().tolerance, false)
      << " of the measurement):\n";
    for (const auto& c : r.peak_checks) o << "  " << c.line() << "\n";
  }

  if (r.comparison) {
    const Comparison& c = *r.comparison;
    o << "\ncomparison with baseline '" << c.baseline_name << "' (run " << c.baseline.id << ", "
      << c.baseline.date << ", revision " << c.baseline.revision << ", " << c.baseline.threads
      << " threads):\n";
    for (const auto& wline : c.warnings) o << "  warning: " << wline << "\n";
    size_t cw = 10;
    for (const auto& ch : c.changes)
      cw = std::max(
          cw,
          (format_value(ch.baseline, ch.unit) + " -> " + format_value(ch.current, ch.unit)).size());
    for (const auto& ch : c.changes) {
      o << "  " << pad(ch.name, w + 2);
      if (ch.verdict == Verdict::kNew) {
        o << "new: " << format_value(ch.current, ch.unit) << " (not in the baseline)\n";
        continue;
      }
      if (ch.verdict == Verdict::kMissing) {
        o << "missing: baseline " << format_value(ch.baseline, ch.unit) << ", not measured now\n";
        continue;
      }
      o << pad(format_value(ch.baseline, ch.unit) + " -> " + format_value(ch.current, ch.unit),
               cw + 2)
        << pad(format_percent(ch.change), 10)
        << pad("(threshold " + format_percent(ch.threshold, false) + ")", 20)
        << verdict_name(ch.verdict) << "\n";
    }
    o << "  " << count_verdict(c.changes, Verdict::kRegression) << " regression(s), "
      << count_verdict(c.changes, Verdict::kImprovement) << " improvement(s), "
      << count_verdict(c.changes, Verdict::kUnchanged) << " unchanged within noise\n";
  }

  if (!r.recommendations.empty()) {
    o << "\nrecommendations (from this run's numbers):\n";
    for (const auto& rec : r.recommendations)
      o << "  - " << rec.text << "\n      [" << rec.evidence << "]\n";
  }
  return o.str();
}

}  // namespace wan22::bench
