// The GPU workloads of `wan22 bench` (issue 5): one DiT forward (t2v and i2v), VAE decode and
// encode, text encoding and a whole generation at the real TI2V-5B sizes, on the CUDA backend.
// Each timing is the median of `repeats` runs after `warmup` runs; peak device memory comes from
// the caching allocator's high-water mark. The CLI (`wan22 bench`) prints and stores the metrics.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/metric.h"
#include "plan/plan.h"

namespace wan22::cuda {

struct BenchOptions {
  std::string model_dir;            // a TI2V-5B checkpoint; empty: random weights at its sizes
  bool random_weights = true;       // true: ignore model_dir and use seeded random weights
  // Workload names to run; empty = all: "720p_121f" (1280x704x121), "480p_121f" (832x480x121),
  // "720p_49f" (1280x704x49), "720p_1f" (1280x704, one frame: a single image).
  std::vector<std::string> workloads;
  // Parts to run; empty = all of "dit", "vae", "text", "generate". "load" (only when named): the
  // TI2V-5B DiT loaded from a random checkpoint written to scratch_dir, in bf16 and fp8, from the
  // checkpoint and through the model cache (first: convert + write; second: the entry), each from a
  // cold page cache: load_dit_<fmt>_{checkpoint,cache_first,cache_second,cache_second_warm,
  // cache_write}_s. Needs ~25 GB of disk there.
  std::vector<std::string> parts;
  std::string scratch_dir;          // the "load" part's files (default $TMPDIR, else /tmp); removed after
  int repeats = 3;
  int warmup = 1;
  int generate_steps = 50;          // denoising steps of the whole-generation timing
  // Workloads of the whole-generation timing (each run once: minutes); empty = `workloads`.
  std::vector<std::string> generate_workloads;
  // > 0: after the unconstrained workloads, each whole generation runs again on an engine the
  // planner (plan/planner.h) laid out for this budget (device memory of the whole process, CUDA
  // context included): metrics generate_<w>_budget<B>_{s,peak_gib,...}, vae_decode_<w>_budget_peak_gib,
  // generate_<w>_budget<B>_slowdown against the unconstrained run.
  double vram_budget_gib = 0.0;
  double vae_budget_gib = 0.0;      // the VAE decode stage's cap under the budget (0: half the budget)
  bool budget_only = false;         // skip the unconstrained generations (only the budgeted ones)
  // The plan of the budgeted generations (`wan22 optimize --validate` passes the plan it printed);
  // unset: the planner's plan for vram_budget_gib on this GPU.
  std::optional<plan::Plan> budget_plan;
  // DiT block weights in fp8 e4m3 (random weights only); the DiT and generation metric names then
  // carry "_fp8" after their first word (dit_forward_fp8_720p_121f_s, generate_fp8_720p_121f_50steps_s).
  bool dit_fp8 = false;
  std::function<void(const std::string&)> on_progress;  // one line per finished measurement
};

struct MachineInfo {
  std::string gpu, driver, cuda;
};

// Throws wan22::Error (kUnsupported) when no GPU is usable, naming the reason.
std::vector<bench::Metric> run_bench(const BenchOptions& opts);
MachineInfo machine_info();
// The "load" part alone (run_bench calls it when parts names "load").
std::vector<bench::Metric> run_load_bench(const BenchOptions& opts);

}  // namespace wan22::cuda
