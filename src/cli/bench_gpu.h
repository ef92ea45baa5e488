// The GPU side of `wan22 bench`: the CUDA workloads of src/backends/cuda/bench_cuda.h. Compiled
// into every build; the call into the CUDA backend exists only when this wan22 has it
// (WAN22_HAVE_CUDA).
#pragma once
#include <string>
#include <vector>

#include "backends/cuda/bench_cuda.h"
#include "bench/metric.h"

namespace wan22::cli {

// True when this build can run the GPU workloads and a GPU is present; otherwise false with the
// reason.
bool gpu_bench_available(std::string* why);

// Runs cuda::run_bench; fills gpu/driver/cuda. Throws Error(kUnsupported) naming why it cannot.
std::vector<bench::Metric> run_gpu_bench(const cuda::BenchOptions& opts,
                                         cuda::MachineInfo* machine);

}  // namespace wan22::cli
