// The time model: per-stage estimates from FLOPs and bytes divided by the achieved throughputs of
// the hardware (plan/hardware.h), plus what weight streaming and offloading add (copy time not
// hidden behind compute). Anchored on the H200 measurements of docs/perf/NOTES.md: one DiT
// forward at 720p 121 frames 0.88 s (GEMM ~750 TFLOP/s, cuDNN attention ~560 TFLOP/s inside the
// DiT, the rest ~0.09 s of norm/RoPE/residual kernels), 480p 0.27 s; pinned copies 55 GB/s.
#pragma once
#include <string>
#include <vector>

#include "plan/hardware.h"
#include "plan/memory_model.h"
#include "plan/model_spec.h"
#include "plan/plan.h"

namespace wan22::plan {

struct TimeTerm {
  std::string name;
  double seconds = 0;
  std::string formula;
};

struct StageTime {
  Stage stage = Stage::kDenoise;
  double seconds = 0;
  std::vector<TimeTerm> terms;
};

// One DiT forward.
struct ForwardTime {
  double linear_flops = 0, attention_flops = 0, elementwise_bytes = 0;
  double linear_s = 0, attention_s = 0, elementwise_s = 0, overhead_s = 0;
  double total_s = 0;
};

struct TimeEstimate {
  std::vector<StageTime> stages;
  double total_s = 0;
  double forward_s = 0;          // one DiT forward at the plan's batch
  int forwards_per_step = 1;
  double stream_exposed_s = 0;   // per denoising step: streaming copy time not hidden by compute
  double step_s = 0;             // one denoising step
  const StageTime* stage(Stage s) const;
};

// GEMM efficiency against the row count of its activations (1 at >= 8192 rows).
double gemm_efficiency(double rows);

ForwardTime dit_forward_time_gpu(const models::DitShape& d, const LatentGrid& g, int64_t text_len, int batch,
                                 int segments, int attention_slice, WeightFormat f, const GpuSpec& gpu);
ForwardTime dit_forward_time_cpu(const models::DitShape& d, const LatentGrid& g, int64_t text_len, int batch,
                                 const CpuSpec& cpu);

// Streaming copy time per forward not hidden by compute (double-buffered prefetch): every streamed
// block waits max(0, copy - compute) and the first one waits for what the resident blocks of the
// previous forward could not hide.
double stream_exposed(int blocks, int resident, double block_copy_s, double block_compute_s);

TimeEstimate estimate_time(const ModelSpec& m, const Workload& w, const Plan& p, const Hardware& hw);

}  // namespace wan22::plan
