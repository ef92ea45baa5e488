// The monitor: samples GPUs (NVML), CPU load per core (/proc/stat), CPU temperatures (hwmon,
// thermal zones), RAM (/proc/meminfo), disk I/O (/proc/diskstats), free space of watched paths
// (statvfs) and the generation speed the pipeline feeds; keeps a history ring, raises and clears
// alerts (perf/monitor_alerts.h) and can append every sample to a JSON-lines file.
//
// Use from the pipeline or the server:
//   perf::Monitor mon(perf::monitor_options(settings));   // performance_monitoring.* keys
//   mon.start();                                          // sampler thread, every metrics_interval
//   s
//   ... per denoising step:  mon.speed().step_done(step_seconds);
//   ... per finished job:    mon.speed().job_done(frames, job_seconds);
//   mon.stop();                                           // also in the destructor
//
// Every source reads through something a test can replace: /proc and /sys below `root`, NVML
// through a GpuProvider, statvfs through `space_reader`, and sample_at() takes the time.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "perf/monitor_alerts.h"
#include "perf/monitor_sample.h"
#include "perf/nvml.h"

namespace wan22::config {
class Settings;
}

namespace wan22::perf {

// Where GPU readings come from (NVML in production, a fake in tests).
class GpuProvider {
 public:
  virtual ~GpuProvider() = default;
  // "ok: N GPU(s) via NVML", or why no GPU can be seen.
  virtual std::string status() const = 0;
  virtual std::vector<NvmlGpu> sample() = 0;
};

// NVML loaded at run time; without it, status() says why and sample() is empty.
std::unique_ptr<GpuProvider> make_nvml_provider(const std::string& library = "libnvidia-ml.so.1");
// No GPU readings at all (status = `why`).
std::unique_ptr<GpuProvider> make_no_gpu_provider(const std::string& why);

// Free and total bytes of the filesystem holding `path` (or its nearest existing parent).
PathSpace statvfs_space(const std::string& path);

// Counters the pipeline feeds; thread-safe and cheap.
class SpeedCounter {
 public:
  void step_done(double seconds);  // one denoising step finished, taking `seconds`
  void job_done(uint64_t frames,
                double seconds);  // a job produced `frames` in `seconds` of wall time
  struct Snapshot {
    uint64_t steps = 0, frames = 0, jobs = 0;
    double step_seconds = 0;  // sum over the steps
    uint64_t last_job_frames = 0;
    double last_job_seconds = 0;
  };
  Snapshot snapshot() const;

 private:
  mutable std::mutex mu_;
  Snapshot s_;
};

struct MonitorOptions {
  bool enabled = true;             // false: start() does nothing (sample_now() still works)
  double interval_s = 5;           // performance_monitoring.metrics_interval
  size_t history = 720;            // samples kept in the ring
  std::string root = "/";          // /proc and /sys below it
  std::vector<std::string> paths;  // free space watched (model, output, temp directories)
  AlertThresholds thresholds;
  std::shared_ptr<GpuProvider> gpu;                           // null: NVML
  std::function<PathSpace(const std::string&)> space_reader;  // null: statvfs_space
  std::string jsonl_path;  // "" = no export; else every sample is appended as one line
  bool log_alerts = true;  // LOG_WARN when raised, LOG_INFO when cleared
};

// The options from the performance_monitoring.* and thermal_management.* keys (temperature
// targets are also the alert thresholds) with the model, output and temp directories as paths.
MonitorOptions monitor_options(const config::Settings& s);

class Monitor {
 public:
  explicit Monitor(MonitorOptions o);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Starts the sampler thread (a first reading at once, so the first sample has rates).
  void start();
  void stop();
  bool running() const;

  // Takes a sample now on the calling thread (history, alerts, export, callbacks as the thread
  // would).
  MonitorSample sample_now();
  // The same at a given time: `t_s` seconds on the monitor's clock, `unix_ms` wall clock (tests).
  MonitorSample sample_at(double t_s, int64_t unix_ms);
  // Readings that only prime the counters (CPU time, disk I/O) so the next sample has rates.
  void prime();
  void prime_at(double t_s);

  SpeedCounter& speed() { return speed_; }
  std::vector<MonitorSample> history() const;
  std::optional<MonitorSample> latest() const;
  std::vector<Alert> active_alerts() const;
  const std::string& gpu_status() const { return gpu_status_; }
  const MonitorOptions& options() const { return o_; }
  // The problem of the JSON-lines export ("" when fine or off).
  std::string export_error() const;

  // Called after each sample / alert change (on the sampling thread).
  void on_sample(std::function<void(const MonitorSample&)> cb);
  void on_alert(std::function<void(const AlertEvent&)> cb);

 private:
  double now_s() const;
  void loop();

  MonitorOptions o_;
  std::shared_ptr<GpuProvider> gpu_;
  std::string gpu_status_;
  std::chrono::steady_clock::time_point t0_;

  mutable std::mutex mu_;  // everything below
  std::optional<ProcStat> last_stat_;
  std::optional<std::vector<DiskCounters>> last_disks_;
  double last_t_ = -1;
  uint64_t seq_ = 0;
  SpeedCounter::Snapshot last_speed_;
  std::deque<MonitorSample> history_;
  AlertTracker alerts_;
  std::ofstream jsonl_;
  std::string export_error_;
  std::function<void(const MonitorSample&)> on_sample_;
  std::function<void(const AlertEvent&)> on_alert_;

  SpeedCounter speed_;
  std::thread thread_;
  std::condition_variable cv_;
  mutable std::mutex run_mu_;
  bool stop_ = false;
  bool running_ = false;
};

}  // namespace wan22::perf
