// Alerts on monitoring samples: performance degradation, thermal throttling, memory near its
// limit, low storage, CPU under-use. Each alert has a key ("vram:0", "storage:/models", ...); it
// is raised once when its condition starts and cleared once when the value is back (with a small
// margin so a value at the threshold does not flap). A value that cannot be read keeps the state.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "perf/monitor_sample.h"

namespace wan22::perf {

struct AlertThresholds {
  // Degradation: steps/s below this fraction of the running median of the job's earlier samples.
  double degradation_fraction = 0.7;
  // A finished job slower than this many output frames per second of wall time (0 = off).
  double generation_speed_fps = 0.5;
  // While steps run and no GPU is busy: mean CPU utilisation below this fraction (0 = off).
  double cpu_utilization = 0.7;
  double gpu_temp_c = 80;  // over: thermal alert (NVML's thermal slowdown reasons always alert)
  double cpu_temp_c = 75;
  double memory_percent = 95;       // VRAM or RAM used over this % of the total
  double min_free_storage_gb = 10;  // GiB free below this on a watched path (0 = off)
};

struct Alert {
  std::string key;      // stable identity, e.g. "gpu_thermal:0"
  std::string kind;     // degradation | thermal | memory | storage | utilization
  std::string message;  // one line, with the measured value and the threshold
  double since_t_s = 0;
};

struct AlertEvent {
  bool raised = true;  // false: cleared
  Alert alert;
  std::string str() const;  // "raised: <message>" / "cleared: <key>: <why it cleared>"
};

class AlertTracker {
 public:
  explicit AlertTracker(AlertThresholds t = {}) : t_(t) {}
  // Evaluates one sample; returns the alerts raised and cleared by it (in a stable order).
  std::vector<AlertEvent> update(const MonitorSample& s);
  // Active alerts, ordered by key.
  std::vector<Alert> active() const;
  const AlertThresholds& thresholds() const { return t_; }

 private:
  enum class Cond { kOver, kUnder, kKeep };
  void apply(const std::string& key, const std::string& kind, Cond c, const std::string& raise_msg,
             const std::string& clear_msg, double t, std::vector<AlertEvent>& events);

  AlertThresholds t_;
  std::map<std::string, Alert> active_;
  std::deque<double> speeds_;  // steps/s of this job's samples not under a degradation alert
  uint64_t last_jobs_done_ = 0;
};

}  // namespace wan22::perf
