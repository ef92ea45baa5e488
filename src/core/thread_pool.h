// A fixed pool of worker threads for CPU kernels and media processing (the guide's cpu_optimization).
#pragma once
#include <condition_variable>
#include <exception>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wan22 {

// thread_affinity: "none" (OS decides), "compact" (worker i on logical CPU i),
// "scatter" (spread across cores/NUMA nodes, round-robin over the sorted node list),
// "numa_aware" (same as scatter, keeps each worker on one node).
enum class Affinity { kNone, kCompact, kScatter, kNumaAware };
bool parse_affinity(const std::string& s, Affinity* out);
const char* affinity_name(Affinity a);

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads, Affinity affinity = Affinity::kNone,
                      std::vector<int> cpus = {});
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }  // + the caller
  Affinity affinity() const { return affinity_; }
  const std::vector<int>& pinned_cpus() const { return pinned_; }  // cpu of worker i (-1: unpinned)

  // Runs fn(begin, end) over [0, n) split into num_threads() contiguous chunks of at least
  // `grain` items; the caller runs one chunk. Calls from inside a worker run inline.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::vector<int> pinned_;
  Affinity affinity_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0, job_chunk_ = 0;
  int job_chunks_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  std::exception_ptr worker_error_;
  std::mutex run_mu_;  // one parallel_for at a time from outside the pool
};

// The process-wide pool. Size defaults to the number of logical CPUs (or WAN22_NUM_THREADS).
ThreadPool& default_pool();
// Replaces the default pool (not while a parallel_for is running).
void set_default_pool(int num_threads, Affinity affinity = Affinity::kNone);
int hardware_threads();

// Convenience: default_pool().parallel_for over [begin, end).
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

}  // namespace wan22
