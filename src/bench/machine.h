// The machine a benchmark runs on: CPU (model, cores), RAM, OS, and the first GPU and driver as
// NVML reports them (loaded at run time; empty when there is none). The CUDA runtime version is
// filled in by the CLI when the CUDA backend is built in.
#pragma once
#include "bench/run_record.h"

namespace wan22::bench {

Machine collect_machine();

}  // namespace wan22::bench
