#include "config/apply.h"

#include <cstdlib>

#include "core/status.h"
#include "core/thread_pool.h"

namespace wan22::config {

int effective_threads(const Settings& s) {
  int64_t n = s.get_int("cpu_optimization.max_workers");
  if (n > 0) return static_cast<int>(n);
  if (const char* e = std::getenv("WAN22_NUM_THREADS")) {
    int v = std::atoi(e);
    if (v > 0) return v;
  }
  return hardware_threads();
}

std::string apply_runtime(const Settings& s) {
  const int threads = effective_threads(s);
  const std::string aff_name = s.get_string("cpu_optimization.thread_affinity");
  Affinity aff;
  if (!parse_affinity(aff_name, &aff))
    throw Error(ErrorCode::kInternal, "config: thread pool does not know affinity '" + aff_name + "'");
  ThreadPool& cur = default_pool();
  if (cur.num_threads() != threads || cur.affinity() != aff) set_default_pool(threads, aff);
  return "thread pool: " + std::to_string(threads) + " threads, affinity " + aff_name;
}

}  // namespace wan22::config
