// Applies the settings that act on process-wide state in this build.
#pragma once
#include <string>

#include "config/settings.h"

namespace wan22::config {

// The CPU thread pool from cpu_optimization.max_workers (0 = WAN22_NUM_THREADS, else all allowed
// CPUs) and cpu_optimization.thread_affinity. Replaces the default pool only when it differs; not
// while a parallel_for runs. Returns a one-line description ("thread pool: 16 threads, numa_aware").
std::string apply_runtime(const Settings& s);

// The thread count apply_runtime would use.
int effective_threads(const Settings& s);

}  // namespace wan22::config
