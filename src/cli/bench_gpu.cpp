#include "cli/bench_gpu.h"

#include "core/status.h"
#ifdef WAN22_HAVE_CUDA
#include "backends/cuda/device.h"
#endif

namespace wan22::cli {

bool gpu_bench_available(std::string* why) {
#ifdef WAN22_HAVE_CUDA
  if (cuda::device_count() > 0) return true;
  if (why) *why = "no usable GPU: " + cuda::unavailable_reason();
  return false;
#else
  if (why) *why = "this wan22 was built without the CUDA backend";
  return false;
#endif
}

std::vector<bench::Metric> run_gpu_bench(const cuda::BenchOptions& opts,
                                         cuda::MachineInfo* machine) {
#ifdef WAN22_HAVE_CUDA
  std::vector<bench::Metric> metrics = cuda::run_bench(opts);
  if (machine) *machine = cuda::machine_info();
  return metrics;
#else
  (void)opts;
  (void)machine;
  std::string why;
  gpu_bench_available(&why);
  throw Error(ErrorCode::kUnsupported, "bench: the GPU workloads cannot run: " + why);
#endif
}

}  // namespace wan22::cli
