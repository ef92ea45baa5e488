#include "core/thread_pool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>

#include "core/log.h"

namespace wan22 {

namespace {
thread_local bool t_in_pool = false;

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  if (cpus.empty()) {
    unsigned n = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned c = 0; c < n; ++c) cpus.push_back(static_cast<int>(c));
  }
  return cpus;
}

bool pin_thread(std::thread::native_handle_type h, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(h, sizeof(set), &set) == 0;
}
}  // namespace

bool parse_affinity(const std::string& s, Affinity* out) {
  if (s == "none" || s == "os") *out = Affinity::kNone;
  else if (s == "compact") *out = Affinity::kCompact;
  else if (s == "scatter" || s == "spread") *out = Affinity::kScatter;
  else if (s == "numa_aware") *out = Affinity::kNumaAware;
  else return false;
  return true;
}

const char* affinity_name(Affinity a) {
  switch (a) {
    case Affinity::kNone: return "none";
    case Affinity::kCompact: return "compact";
    case Affinity::kScatter: return "scatter";
    case Affinity::kNumaAware: return "numa_aware";
  }
  return "?";
}

int hardware_threads() { return static_cast<int>(allowed_cpus().size()); }

ThreadPool::ThreadPool(int num_threads, Affinity affinity, std::vector<int> cpus)
    : affinity_(affinity) {
  num_threads = std::max(1, num_threads);
  if (cpus.empty()) cpus = allowed_cpus();
  const int workers = num_threads - 1;
  workers_.reserve(workers);
  pinned_.assign(workers, -1);
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this, i] { worker_loop(i); });
    if (affinity_ != Affinity::kNone && !cpus.empty()) {
      // compact: consecutive CPUs (worker i+1, the caller keeps CPU list[0]).
      // scatter/numa_aware: the caller-provided list is already ordered across nodes.
      int cpu = cpus[static_cast<size_t>(i + 1) % cpus.size()];
      if (pin_thread(workers_.back().native_handle(), cpu)) pinned_[i] = cpu;
      else LOG_WARN << "thread pool: could not pin worker " << i << " to CPU " << cpu;
    }
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop(int index) {
  t_in_pool = true;
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int64_t, int64_t)>* job;
    int64_t n, chunk;
    int chunks;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
      n = job_n_;
      chunk = job_chunk_;
      chunks = job_chunks_;
    }
    int c = index + 1;  // chunk 0 belongs to the caller
    if (c < chunks) {
      int64_t b = c * chunk, e = std::min(n, b + chunk);
      if (b < e) {
        try {
          (*job)(b, e);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu_);
          if (!worker_error_) worker_error_ = std::current_exception();
        }
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int64_t max_chunks = (n + grain - 1) / grain;
  int chunks = static_cast<int>(std::min<int64_t>(num_threads(), max_chunks));
  if (chunks <= 1 || t_in_pool || workers_.empty()) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> run_lock(run_mu_);
  int64_t chunk = (n + chunks - 1) / chunks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_n_ = n;
    job_chunk_ = chunk;
    job_chunks_ = chunks;
    pending_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  cv_.notify_all();
  bool was = t_in_pool;
  t_in_pool = true;
  std::exception_ptr err;
  try {
    fn(0, std::min(n, chunk));
  } catch (...) {
    err = std::current_exception();
  }
  t_in_pool = was;
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return pending_ == 0; });
  job_ = nullptr;
  if (!err && worker_error_) err = worker_error_;
  worker_error_ = nullptr;
  if (err) std::rethrow_exception(err);
}

namespace {
std::unique_ptr<ThreadPool>& pool_ref() {
  static std::unique_ptr<ThreadPool> p;
  return p;
}
std::mutex g_pool_mutex;
}  // namespace

ThreadPool& default_pool() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  auto& p = pool_ref();
  if (!p) {
    int n = hardware_threads();
    if (const char* e = std::getenv("WAN22_NUM_THREADS")) {
      int v = std::atoi(e);
      if (v > 0) n = v;
    }
    p = std::make_unique<ThreadPool>(n);
  }
  return *p;
}

void set_default_pool(int num_threads, Affinity affinity) {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  pool_ref() = std::make_unique<ThreadPool>(num_threads, affinity);
}

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  default_pool().parallel_for(end - begin, grain,
                              [&](int64_t b, int64_t e) { fn(begin + b, begin + e); });
}

}  // namespace wan22
