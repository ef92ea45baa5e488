// The guide's "Optimized Performance Targets" and "Baseline Performance Metrics" (config sections
// performance_targets and performance_baseline), checked pass/fail against a run's metrics.
#pragma once
#include <string>
#include <vector>

#include "bench/metric.h"

namespace wan22::config {
class Settings;
}

namespace wan22::bench {

struct TargetSpec {
  std::string
      key;  // the config key below performance_targets / performance_baseline, e.g. "video_2s_s"
  std::string label;    // "2-second video (49 frames)"
  std::string unit;     // "s", "GiB"
  double target = 0;    // pass when the measured value <= target
  double baseline = 0;  // the guide's unoptimized value, for the improvement column
};

// The four targets with the values of the settings (defaults: the guide's tables).
std::vector<TargetSpec> target_specs(const config::Settings& s);
// The same with the guide's values (no config).
std::vector<TargetSpec> default_target_specs();

enum class TargetStatus { kPass, kFail, kNotMeasured };
const char* target_status_name(TargetStatus s);  // "pass" "fail" "not measured"

struct TargetCheck {
  TargetSpec spec;
  TargetStatus status = TargetStatus::kNotMeasured;
  std::string metric;  // the metric that was checked ("" when not measured)
  double value = 0;
  double vs_baseline = 0;  // 1 - value / baseline: the improvement over the guide's baseline
  std::string note;        // why not measured, or what the number means on this run
};

// Which metric answers which target: model_load_s, single_image_s, video_2s_s (or, from the GPU
// workloads, generate_720p_49f_<N>steps_s: 49 frames at 1280x704 is the 2-second video),
// peak_vram_gb (peak_vram_gib, or the largest peak_vram_gib_* of the GPU workloads). Host RSS is
// not device memory: a CPU run leaves peak_vram_gb not measured. `demo` adds a note that the
// targets are the TI2V-5B's and the demo model is tiny.
std::vector<TargetCheck> check_targets(const std::vector<Metric>& metrics,
                                       const std::vector<TargetSpec>& specs, bool demo);

}  // namespace wan22::bench
