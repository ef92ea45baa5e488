#include "bench/targets.h"

#include <regex>

#include "config/settings.h"

namespace wan22::bench {

namespace {
struct Row {
  const char* key;
  const char* label;
  const char* unit;
  double target, baseline;  // the guide's values (upper end of each range)
};
const Row kRows[] = {
    {"model_load_s", "TI2V-5B model loading", "s", 180, 420},
    {"single_image_s", "single image (1 frame)", "s", 35, 60},
    {"video_2s_s", "2-second video (49 frames at 24 fps)", "s", 120, 240},
    {"peak_vram_gb", "peak device memory", "GiB", 12, 18},
};

const Metric* resolve(const std::vector<Metric>& metrics, const std::string& key) {
  if (key == "model_load_s" || key == "single_image_s" || key == "video_2s_s") {
    if (const Metric* m = find_metric(metrics, key)) return m;
    if (key == "video_2s_s") {
      static const std::regex gpu_video(R"(generate_720p_49f_\d+steps_s)");
      for (const auto& m : metrics)
        if (std::regex_match(m.name, gpu_video)) return &m;
    }
    return nullptr;
  }
  if (key == "peak_vram_gb") {
    if (const Metric* m = find_metric(metrics, "peak_vram_gib")) return m;
    const Metric* best = nullptr;
    for (const auto& m : metrics) {
      if (m.name.rfind("peak_vram_gib", 0) == 0 && m.name.find("budget") == std::string::npos &&
          (!best || m.value > best->value))
        best = &m;
    }
    if (best) return best;
    // A run of budgeted generations only (--budget-only): their process peaks.
    static const std::regex budget_peak(R"(generate_\w+_budget[0-9.]+(_\d+steps)?_peak_gib)");
    for (const auto& m : metrics) {
      if (std::regex_match(m.name, budget_peak) && (!best || m.value > best->value)) best = &m;
    }
    return best;
  }
  return nullptr;
}
}  // namespace

std::vector<TargetSpec> default_target_specs() {
  std::vector<TargetSpec> out;
  for (const auto& r : kRows) out.push_back({r.key, r.label, r.unit, r.target, r.baseline});
  return out;
}

std::vector<TargetSpec> target_specs(const config::Settings& s) {
  std::vector<TargetSpec> out = default_target_specs();
  for (auto& t : out) {
    t.target = s.get_double("performance_targets." + t.key);
    t.baseline = s.get_double("performance_baseline." + t.key);
  }
  return out;
}

const char* target_status_name(TargetStatus s) {
  switch (s) {
    case TargetStatus::kPass:
      return "pass";
    case TargetStatus::kFail:
      return "fail";
    case TargetStatus::kNotMeasured:
      return "not measured";
  }
  return "?";
}

std::vector<TargetCheck> check_targets(const std::vector<Metric>& metrics,
                                       const std::vector<TargetSpec>& specs, bool demo) {
  std::vector<TargetCheck> out;
  for (const auto& spec : specs) {
    TargetCheck c;
    c.spec = spec;
    const Metric* m = resolve(metrics, spec.key);
    if (!m) {
      c.note = spec.key == "peak_vram_gb"
                   ? "no device memory measured in this run (host RSS is peak_rss_gib)"
                   : "this run has no such workload";
      out.push_back(c);
      continue;
    }
    c.metric = m->name;
    c.value = m->value;
    c.status = m->value <= spec.target ? TargetStatus::kPass : TargetStatus::kFail;
    if (spec.baseline > 0) c.vs_baseline = 1.0 - m->value / spec.baseline;
    if (demo)
      c.note =
          "demo model (tiny, random weights): the targets are TI2V-5B's; this checks the machinery "
          "only";
    out.push_back(c);
  }
  return out;
}

}  // namespace wan22::bench
