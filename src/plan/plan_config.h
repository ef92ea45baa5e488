// A plan as configuration: the guide's sections (memory_optimization, cpu_offload,
// attention_optimization, memory_pool, tile_optimization, batch_optimization, ti2v_5b_loading,
// ti2v_5b_quantization, generation) written in the format of `wan22 config init`, and read back.
// Also where the active config file lives and its baseline copy (`wan22 optimize --apply`,
// `--restore-baseline`).
#pragma once
#include <string>

#include "config/settings.h"
#include "plan/planner.h"

namespace wan22::plan {

// The keys a plan sets, as a nested config document (valid input for Settings::try_load_text).
config::Json plan_document(const PlanResult& r);
// The settings: defaults with the plan's keys layered on. Throws Error(kInternal) if the schema
// rejects them (a planner bug).
config::Settings plan_settings(const PlanResult& r);
// The commented config file (every key, as `wan22 config init` writes it) with a header that names
// the hardware, the workload, the predicted peak and time, and the planner's notes.
std::string render_plan_config(const PlanResult& r);

// The plan a config describes (the inverse of plan_document for the keys the planner sets).
Plan plan_from_settings(const config::Settings& s);
// The workload of the generation.* keys; the model is `model` (size/frames/steps/guidance of the
// settings; a key still at its default takes the model's default).
Workload workload_from_settings(const config::Settings& s, const ModelSpec& model);
// Planner options from the settings (generation.vram_budget_gb, tile_optimization.overlap_pixels).
PlannerOptions planner_options(const config::Settings& s);

// The active config file: $WAN22_CONFIG, else $XDG_CONFIG_HOME/wan22/config.json, else
// $HOME/.config/wan22/config.json.
std::string active_config_path();
// "<dir>/<stem>.baseline.json" next to `config_path`.
std::string baseline_path(const std::string& config_path);

struct ApplyResult {
  std::string path, baseline;
  bool baseline_created = false;  // the first apply saved the previous config (or the defaults) as baseline
};
// Writes `text` to `path` atomically (parent directories created). Before the first write, saves
// the current file (or, when there is none, the default config) as the baseline.
ApplyResult apply_config_text(const std::string& path, const std::string& text);
// Copies the baseline over `path`. Throws Error(kNotFound) when there is no baseline.
ApplyResult restore_baseline(const std::string& path);

}  // namespace wan22::plan
