// The placement planner: for a machine (plan/hardware.h), a workload and a VRAM budget it finds the
// fastest plan (time model) whose predicted peak fits: which components stay resident, which are
// offloaded or streamed (and how many DiT blocks stay), the text encoder on the CPU or the GPU,
// CFG as a batch of 2 or sequential, activation segments, VAE tiles, weight formats. When nothing
// fits it throws an Error naming the smallest budget that would. `backoff` makes the next smaller
// plan for a retry after an out-of-memory error.
//
// How the CUDA pipeline uses it (see docs/optimize.md):
//   plan::Hardware hw = plan::hardware_from_sysinfo(perf::collect_sysinfo({}));   // or load_hardware
//   plan::ModelSpec model = plan::resolve_model(checkpoint_dir);
//   plan::Workload w = plan::workload_from_settings(settings, model);
//   plan::PlanResult r = plan::make_plan(model, w, hw, plan::planner_options(settings));
//   ... run with r.plan; on CUDA out-of-memory in stage S:
//   if (auto b = plan::backoff(r.plan, S, model)) { r.plan = b->plan; retry; }  // b->change says what changed
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "plan/hardware.h"
#include "plan/memory_model.h"
#include "plan/model_spec.h"
#include "plan/plan.h"
#include "plan/time_model.h"

namespace wan22::plan {

struct PlannerOptions {
  // Device memory budget of the whole process (GiB); 0 = the whole device (minus context and a
  // reserve). The stages get the budget minus the CUDA context (Hardware's gpu->context_bytes:
  // measured by the engine's callers, estimated for presets) and kWorkspaceReserveBytes: the figure
  // the CUDA engine caps its allocator at.
  double budget_gib = 0;
  double vae_budget_gib = 0;       // an extra cap on the VAE decode stage's peak, context included (0: only the budget)
  bool allow_quantization = false; // fp8/int8 DiT weights whenever faster; else only when nothing fits in bf16
  bool force_cpu = false;          // plan for the CPU backend even when a GPU is present
  double ram_fraction = 0.85;      // share of the RAM a plan may use (pinned weights, CPU components, video)
  int overlap = 32;                // VAE tile overlap in pixels (tile_optimization.overlap_pixels)
  // Batching (batch_optimization.*). One generation's batch is the CFG pair: dynamic_batch lets
  // the planner choose it (a batch of 2 only when its predicted denoise peak stays within
  // batch_threshold of the budget, and only where the GPU batches, kCfgBatchMaxTokens);
  // !dynamic_batch: cfg_batch as given. max_batch 1 keeps the pair sequential.
  bool dynamic_batch = true;
  bool cfg_batch = true;
  int max_batch = 8;
  double batch_threshold = 0.9;
  std::vector<int> segments = {1, 2, 4, 8, 16, 32};
  std::vector<int> tiles = {0, 1024, 768, 512, 384, 256, 192, 128};
};

struct PlanResult {
  Plan plan;
  ModelSpec model;
  Workload workload;
  MemoryEstimate memory;
  TimeEstimate time;
  double budget_bytes = 0;
  double requested_budget_gib = 0; // PlannerOptions::budget_gib (0: none given)
  std::string budget_source;       // "--vram-budget 8 GiB", "device 139.9 GiB - context 0.5 GiB - reserve"
  std::string device;              // "NVIDIA H200 (cuda)" or "CPU"
  std::vector<std::string> notes;  // each decision, in words
  int candidates = 0;              // plans evaluated
};

// The whole device minus the context and a reserve: the room without a budget.
double usable_device_bytes(const Hardware& hw);
// What a budget does not give the stages: the CUDA context + kWorkspaceReserveBytes (0 without a GPU).
double outside_allocator_bytes(const Hardware& hw);

// Throws Error(kOutOfMemory) when no plan fits (the message names the smallest budget that fits and
// that plan), Error(kInvalidArgument) for a bad workload.
PlanResult make_plan(const ModelSpec& m, const Workload& w, const Hardware& hw, const PlannerOptions& o);

// Evaluates a given plan (memory, time, notes) without searching: for a config read back, or a
// plan after backoff.
PlanResult evaluate_plan(const ModelSpec& m, const Workload& w, const Hardware& hw, const Plan& p,
                         const PlannerOptions& o);

// The smallest process budget any plan fits (its peak + outside_allocator_bytes), and that plan.
double smallest_budget(const ModelSpec& m, const Workload& w, const Hardware& hw, const PlannerOptions& o,
                       Plan* smallest = nullptr);

struct Backoff {
  Plan plan;
  std::string change;  // "checkpoint_segments 4 -> 8"
};
// The next smaller plan after an out-of-memory error in `failed`: one step that lowers that stage's
// peak (denoise: more segments, CFG sequential, fewer resident DiT blocks, fp8 weights; decode:
// smaller tiles, VAE offloaded; text: stream or CPU text encoder), falling back to steps that help
// every stage. nullopt when no smaller plan exists.
std::optional<Backoff> backoff(const Plan& p, Stage failed, const ModelSpec& m);

}  // namespace wan22::plan
