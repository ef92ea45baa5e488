#include "bench/compare.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "bench/stats.h"

namespace wan22::bench {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kUnchanged:
      return "unchanged";
    case Verdict::kRegression:
      return "regression";
    case Verdict::kImprovement:
      return "improvement";
    case Verdict::kNew:
      return "new";
    case Verdict::kMissing:
      return "missing";
  }
  return "?";
}

namespace {

MetricChange judge(const Metric& cur, const Metric& base, const CompareOptions& opt) {
  MetricChange c;
  c.name = cur.name;
  c.unit = cur.unit;
  c.better = cur.better;
  c.has_baseline = c.has_current = true;
  c.baseline = base.value;
  c.current = cur.value;
  c.band_baseline = noise_band(base);
  c.band_current = noise_band(cur);
  c.threshold = std::max(opt.min_change, c.band_baseline + c.band_current);
  if (!std::isfinite(c.baseline) || !std::isfinite(c.current))
    return c;  // unchanged: nothing to judge
  if (c.baseline == 0) {
    c.change =
        c.current == 0 ? 0 : std::copysign(std::numeric_limits<double>::infinity(), c.current);
  } else {
    c.change = (c.current - c.baseline) / std::fabs(c.baseline);
  }
  const double worse = c.better == Better::kLower ? c.change : -c.change;
  if (worse > c.threshold)
    c.verdict = Verdict::kRegression;
  else if (worse < -c.threshold)
    c.verdict = Verdict::kImprovement;
  return c;
}

}  // namespace

std::vector<MetricChange> compare_metrics(const std::vector<Metric>& current,
                                          const std::vector<Metric>& baseline,
                                          const CompareOptions& opt) {
  std::vector<MetricChange> out;
  for (const auto& cur : current) {
    if (const Metric* base = find_metric(baseline, cur.name)) {
      out.push_back(judge(cur, *base, opt));
    } else {
      MetricChange c;
      c.name = cur.name;
      c.unit = cur.unit;
      c.better = cur.better;
      c.has_current = true;
      c.current = cur.value;
      c.band_current = noise_band(cur);
      c.verdict = Verdict::kNew;
      out.push_back(c);
    }
  }
  for (const auto& base : baseline) {
    if (find_metric(current, base.name)) continue;
    MetricChange c;
    c.name = base.name;
    c.unit = base.unit;
    c.better = base.better;
    c.has_baseline = true;
    c.baseline = base.value;
    c.band_baseline = noise_band(base);
    c.verdict = Verdict::kMissing;
    out.push_back(c);
  }
  return out;
}

size_t count_verdict(const std::vector<MetricChange>& changes, Verdict v) {
  return static_cast<size_t>(std::count_if(changes.begin(), changes.end(),
                                           [&](const MetricChange& c) { return c.verdict == v; }));
}

}  // namespace wan22::bench
