// The GPU side of `wan22 optimize --validate`: the comparison of a short run of the CUDA
// workloads (cuda::run_bench, called by the CLI) with the time and memory models.
#include <algorithm>
#include <cstdio>

#include "bench/predicted_peaks.h"
#include "plan/memory_model.h"
#include "plan/model_spec.h"
#include "plan/plan_validate.h"
#include "plan/time_model.h"

namespace wan22::plan {

namespace {

std::string fixed2(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.2f", v);
  return b;
}

}  // namespace

std::string gpu_bench_workload(const Workload& w) {
  for (const auto& s : bench::gpu_bench_sizes())
    if (w.width == s.width && w.height == s.height && w.frames == s.frames) return s.name;
  return "";
}

std::string gpu_bench_sizes() {
  std::string out;
  for (const auto& s : bench::gpu_bench_sizes())
    out += (out.empty() ? "" : ", ") + std::to_string(s.width) + "x" + std::to_string(s.height) + "x" +
           std::to_string(s.frames) + " (" + s.name + ")";
  return out;
}

ValidationResult validate_gpu_metrics(const Workload& w, const Hardware& hw, const std::vector<bench::Metric>& metrics,
                                      int steps, const ValidateOptions& o) {
  ValidationResult r;
  r.device = hw.gpu ? hw.gpu->name : "gpu";
  r.model = o.checkpoint.empty() ? "random weights at the TI2V-5B sizes" : o.checkpoint;
  r.steps = steps;
  const std::string wl = gpu_bench_workload(w);
  if (wl.empty()) {
    r.notes.push_back("the GPU validation runs the bench's workloads only: " + gpu_bench_sizes() + "; " +
                      std::to_string(w.width) + "x" + std::to_string(w.height) + "x" + std::to_string(w.frames) +
                      " is not one of them (not validated)");
    return r;
  }
  if (o.budget_gib > 0) {
    // The budgeted generation (cuda::run_bench with vram_budget_gib): the engine ran the plan the
    // bench's planner made for this budget, and reported that plan's predictions beside the
    // measurements (device memory of the process: allocator reservations + context, measured).
    char b[32];
    std::snprintf(b, sizeof(b), "%g", o.budget_gib);
    std::string tag = "generate_" + wl;
    tag += "_budget";
    tag += b;
    if (steps != 50) {
      tag += '_';
      tag += std::to_string(steps);
      tag += "steps";
    }
    const bench::Metric* step = bench::find_metric(metrics, tag + "_step_s");
    const bench::Metric* pstep = bench::find_metric(metrics, "predicted_" + tag + "_step_s");
    const bench::Metric* peak = bench::find_metric(metrics, tag + "_peak_gib");
    const bench::Metric* ppeak = bench::find_metric(metrics, "predicted_" + tag + "_peak_gib");
    if (!step || !pstep || !peak || !ppeak) {
      r.notes.push_back("the GPU run did not report " + tag + "_step_s / _peak_gib and their predictions (not validated)");
      return r;
    }
    r.checks.push_back({"denoise step time", pstep->value, step->value, o.time_tolerance, "s"});
    r.checks.push_back({"generation peak VRAM (process)", ppeak->value, peak->value, o.gpu_memory_tolerance, "GiB"});
    r.notes.push_back("workload " + w.str() + " (" + wl + ") under --vram-budget " + b +
                      " GiB: the plan above, run by the engine with its allocator capped at the budget minus the "
                      "measured CUDA context and the workspace reserve");
    return r;
  }
  const std::string peak_name = "peak_vram_gib_generate_" + wl;
  const auto pw = bench::peak_workload(peak_name);
  const std::string tag = "generate_" + wl + "_" + std::to_string(steps) + "steps";
  const bench::Metric* step = bench::find_metric(metrics, tag + "_step_s");
  const bench::Metric* peak = bench::find_metric(metrics, peak_name);
  if (!pw || !step || !peak) {
    r.notes.push_back("the GPU run did not report " + tag + "_step_s and " + peak_name + " (not validated)");
    return r;
  }
  const ModelSpec m = model_preset(pw->workload.model);
  Workload bw = pw->workload;
  bw.steps = steps;
  const TimeEstimate te = estimate_time(m, bw, pw->plan, hw);
  const double predicted_peak = bench::predicted_peak_gib(*pw, true);
  r.checks.push_back({"denoise step time", te.step_s, step->value, o.time_tolerance, "s"});
  r.checks.push_back({"generation peak VRAM", predicted_peak, peak->value, o.gpu_memory_tolerance, "GiB"});
  r.notes.push_back("workload " + bw.str() + " (" + wl + "), plan the bench runs: " + pw->plan.str());
  r.notes.push_back("no --vram-budget: the engine holds every component (the plan above); measured peak " +
                    fixed2(peak->value) + " GiB = the caching allocator's high-water mark (with --vram-budget the "
                    "budgeted plan is run and checked instead)");
  return r;
}

}  // namespace wan22::plan
