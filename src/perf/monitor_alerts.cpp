#include "perf/monitor_alerts.h"

#include <algorithm>
#include <cstdio>

namespace wan22::perf {
namespace {

constexpr double kTempMarginC = 2.0;       // clear a temperature alert this far under the target
constexpr double kMemoryMarginPct = 2.0;   // clear a memory alert this far under the limit
constexpr double kStorageMarginGiB = 1.0;  // clear a storage alert with this much more free
constexpr size_t kSpeedWindow = 20;        // samples in the running median
constexpr size_t kMinSpeedSamples = 3;     // earlier samples needed before degradation is judged
constexpr unsigned kGpuBusyPct = 10;       // a GPU this busy makes the work GPU-bound

std::string f(const char* fmt, double v) {
  char buf[96];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}
std::string gib(double bytes) { return f("%.1f", bytes / (1024.0 * 1024.0 * 1024.0)); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::string AlertEvent::str() const {
  return raised ? "raised: " + alert.message : "cleared: " + alert.key + ": " + alert.message;
}

void AlertTracker::apply(const std::string& key, const std::string& kind, Cond c,
                         const std::string& raise_msg, const std::string& clear_msg, double t,
                         std::vector<AlertEvent>& events) {
  auto it = active_.find(key);
  if (c == Cond::kOver && it == active_.end()) {
    Alert a{key, kind, raise_msg, t};
    active_[key] = a;
    events.push_back({true, a});
  } else if (c == Cond::kUnder && it != active_.end()) {
    Alert a = it->second;
    a.message = clear_msg;
    active_.erase(it);
    events.push_back({false, a});
  }
}

std::vector<AlertEvent> AlertTracker::update(const MonitorSample& s) {
  std::vector<AlertEvent> ev;
  const double t = s.t_s;
  using C = Cond;

  // ---- GPUs: thermal throttling, temperature, VRAM ----
  for (const auto& g : s.gpus) {
    const std::string id = std::to_string(g.index);
    const std::string temp = g.temperature_c.known() ? f(" at %.0f C", *g.temperature_c.value) : "";
    if (g.throttle_reasons.known()) {
      const uint64_t hot =
          *g.throttle_reasons.value & (nvml_reason::kThermal | nvml_reason::kHwSlowdown);
      std::string names;
      for (const auto& n : throttle_reason_names(hot)) names += (names.empty() ? "" : ", ") + n;
      apply("gpu_throttle:" + id, "thermal", hot ? C::kOver : C::kUnder,
            "GPU " + id + " thermal throttling (" + names + ")" + temp,
            "GPU " + id + " no longer throttled" + temp, t, ev);
    }
    if (g.temperature_c.known()) {
      const double c = *g.temperature_c.value;
      apply(
          "gpu_temp:" + id, "thermal",
          c > t_.gpu_temp_c ? C::kOver : (c <= t_.gpu_temp_c - kTempMarginC ? C::kUnder : C::kKeep),
          "GPU " + id + f(" at %.0f C", c) + f(" > target %.0f C", t_.gpu_temp_c),
          "GPU " + id + " back" + f(" at %.0f C", c) + f(" (target %.0f C)", t_.gpu_temp_c), t, ev);
    }
    if (g.memory_used_bytes.known() && g.memory_total_bytes.known() &&
        *g.memory_total_bytes.value > 0) {
      const double used = static_cast<double>(*g.memory_used_bytes.value);
      const double total = static_cast<double>(*g.memory_total_bytes.value);
      const double p = 100.0 * used / total;
      apply("vram:" + id, "memory",
            p > t_.memory_percent
                ? C::kOver
                : (p < t_.memory_percent - kMemoryMarginPct ? C::kUnder : C::kKeep),
            "GPU " + id + f(" VRAM %.0f%% used", p) + " (" + gib(used) + "/" + gib(total) +
                " GiB)" + f(" > %.0f%%", t_.memory_percent),
            "GPU " + id + f(" VRAM back at %.0f%%", p), t, ev);
    }
  }

  // ---- CPU temperature ----
  if (s.cpu_temp_c.known()) {
    const double c = *s.cpu_temp_c.value;
    apply("cpu_temp", "thermal",
          c > t_.cpu_temp_c ? C::kOver : (c <= t_.cpu_temp_c - kTempMarginC ? C::kUnder : C::kKeep),
          f("CPU at %.1f C", c) + f(" > target %.0f C", t_.cpu_temp_c),
          f("CPU back at %.1f C", c) + f(" (target %.0f C)", t_.cpu_temp_c), t, ev);
  }

  // ---- RAM ----
  if (s.memory.total_bytes.known() && s.memory.available_bytes.known() &&
      *s.memory.total_bytes.value > 0) {
    const double total = static_cast<double>(*s.memory.total_bytes.value);
    const double used =
        total - std::min(total, static_cast<double>(*s.memory.available_bytes.value));
    const double p = 100.0 * used / total;
    apply("ram", "memory",
          p > t_.memory_percent ? C::kOver
                                : (p < t_.memory_percent - kMemoryMarginPct ? C::kUnder : C::kKeep),
          f("RAM %.0f%% used", p) + " (" + gib(used) + "/" + gib(total) + " GiB)" +
              f(" > %.0f%%", t_.memory_percent),
          f("RAM back at %.0f%% used", p), t, ev);
  }

  // ---- storage ----
  if (t_.min_free_storage_gb > 0) {
    for (const auto& p : s.paths) {
      if (!p.free_bytes.known()) continue;
      const double free_gib = static_cast<double>(*p.free_bytes.value) / (1024.0 * 1024.0 * 1024.0);
      apply("storage:" + p.path, "storage",
            free_gib < t_.min_free_storage_gb
                ? C::kOver
                : (free_gib >= t_.min_free_storage_gb + kStorageMarginGiB ? C::kUnder : C::kKeep),
            "low storage: " + p.path + f(" has %.1f GiB free", free_gib) +
                f(" < %g GiB", t_.min_free_storage_gb),
            p.path + f(" has %.1f GiB free again", free_gib), t, ev);
    }
  }

  // ---- generation speed ----
  const GenerationSpeed& g = s.generation;
  const bool job_finished = g.jobs_done != last_jobs_done_;
  if (job_finished) {
    last_jobs_done_ = g.jobs_done;
    speeds_.clear();  // the next job has its own running median
  }
  if (g.steps_per_s.known()) {
    const double v = *g.steps_per_s.value;
    Cond c = C::kUnder;
    double m = 0;
    if (speeds_.size() >= kMinSpeedSamples) {
      m = median(std::vector<double>(speeds_.begin(), speeds_.end()));
      c = v < t_.degradation_fraction * m ? C::kOver : C::kUnder;
    }
    if (c == C::kUnder) {  // degraded samples stay out of the median, so a lasting slowdown stays
                           // flagged
      speeds_.push_back(v);
      if (speeds_.size() > kSpeedWindow) speeds_.pop_front();
    }
    apply("degradation", "degradation", c,
          "performance degradation: " + f("%.3g steps/s", v) +
              f(" < %.2g x", t_.degradation_fraction) + f(" running median %.3g steps/s", m),
          f("speed back at %.3g steps/s", v), t, ev);
  } else if (job_finished) {
    apply("degradation", "degradation", C::kUnder, "", "job finished", t, ev);
  }
  if (job_finished && g.frames_per_s.known() && t_.generation_speed_fps > 0) {
    const double fps = *g.frames_per_s.value;
    apply("generation_speed", "degradation", fps < t_.generation_speed_fps ? C::kOver : C::kUnder,
          f("generation speed %.3g frames/s", fps) +
              f(" < target %g frames/s", t_.generation_speed_fps),
          f("generation speed %.3g frames/s meets the target", fps), t, ev);
  }

  // ---- CPU under-use while the work is CPU-bound ----
  if (t_.cpu_utilization > 0) {
    bool gpu_busy = false;
    for (const auto& gpu : s.gpus)
      if (gpu.utilization_gpu_pct.known() && *gpu.utilization_gpu_pct.value >= kGpuBusyPct)
        gpu_busy = true;
    const bool cpu_bound = g.steps_per_s.known() && !gpu_busy;
    if (!cpu_bound) {
      apply("cpu_underuse", "utilization", C::kUnder, "", "no CPU-bound work", t, ev);
    } else if (s.cpu.total.known()) {
      const double u = *s.cpu.total.value;
      apply("cpu_underuse", "utilization", u < t_.cpu_utilization ? C::kOver : C::kUnder,
            f("CPU under-used while generating: %.0f%%", u * 100) +
                f(" < target %.0f%%", t_.cpu_utilization * 100),
            f("CPU utilisation back at %.0f%%", u * 100), t, ev);
    }
  }
  return ev;
}

std::vector<Alert> AlertTracker::active() const {
  std::vector<Alert> out;
  for (const auto& [k, a] : active_) out.push_back(a);
  return out;
}

}  // namespace wan22::perf
