#include "perf/monitor.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "config/settings.h"
#include "core/log.h"
#include "perf/sysfs_read.h"

namespace wan22::perf {
namespace {

class NvmlProvider : public GpuProvider {
 public:
  explicit NvmlProvider(const std::string& library) : nvml_(library) {
    if (!nvml_.ok()) {
      status_ = nvml_.reason();
    } else if (nvml_.device_count() == 0) {
      status_ = nvml_.reason().empty() ? "NVML reports no GPU" : nvml_.reason();
    } else {
      status_ = "ok: " + std::to_string(nvml_.device_count()) + " GPU(s) via NVML";
    }
  }
  std::string status() const override { return status_; }
  std::vector<NvmlGpu> sample() override {
    std::vector<NvmlGpu> out;
    if (!nvml_.ok()) return out;
    for (unsigned i = 0; i < nvml_.device_count(); ++i) out.push_back(nvml_.query(i));
    return out;
  }

 private:
  Nvml nvml_;
  std::string status_;
};

class NoGpu : public GpuProvider {
 public:
  explicit NoGpu(std::string why) : why_(std::move(why)) {}
  std::string status() const override { return why_; }
  std::vector<NvmlGpu> sample() override { return {}; }

 private:
  std::string why_;
};

std::string directory_of(const std::string& p) {
  if (p.empty()) return p;
  std::filesystem::path fp(p);
  if (fp.has_extension() && fp.has_parent_path()) return fp.parent_path().string();
  if (fp.has_extension()) return ".";
  return p;
}

}  // namespace

std::unique_ptr<GpuProvider> make_nvml_provider(const std::string& library) {
  return std::make_unique<NvmlProvider>(library);
}

std::unique_ptr<GpuProvider> make_no_gpu_provider(const std::string& why) {
  return std::make_unique<NoGpu>(why);
}

PathSpace statvfs_space(const std::string& path) {
  namespace fs = std::filesystem;
  PathSpace s;
  s.path = path;
  std::error_code ec;
  fs::path p = fs::absolute(path.empty() ? "." : path, ec);
  if (ec) p = path;
  while (!fs::exists(p, ec) && p.has_parent_path() && p.parent_path() != p) p = p.parent_path();
  struct statvfs sv {};
  if (statvfs(p.c_str(), &sv) != 0) {
    const std::string why = "statvfs(" + p.string() + "): " + std::strerror(errno);
    s.free_bytes = s.total_bytes = Known<uint64_t>::unknown(why);
    return s;
  }
  const uint64_t unit = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
  s.free_bytes = Known<uint64_t>::of(static_cast<uint64_t>(sv.f_bavail) * unit);
  s.total_bytes = Known<uint64_t>::of(static_cast<uint64_t>(sv.f_blocks) * unit);
  return s;
}

// ---------------- SpeedCounter ----------------
void SpeedCounter::step_done(double seconds) {
  std::lock_guard<std::mutex> lk(mu_);
  ++s_.steps;
  s_.step_seconds += seconds > 0 ? seconds : 0;
}

void SpeedCounter::job_done(uint64_t frames, double seconds) {
  std::lock_guard<std::mutex> lk(mu_);
  ++s_.jobs;
  s_.frames += frames;
  s_.last_job_frames = frames;
  s_.last_job_seconds = seconds;
}

SpeedCounter::Snapshot SpeedCounter::snapshot() const {
  std::lock_guard<std::mutex> lk(mu_);
  return s_;
}

// ---------------- options ----------------
MonitorOptions monitor_options(const config::Settings& s) {
  MonitorOptions o;
  o.enabled = s.get_bool("performance_monitoring.enabled");
  o.interval_s = s.get_double("performance_monitoring.metrics_interval");
  o.history = static_cast<size_t>(s.get_int("performance_monitoring.history_size"));
  AlertThresholds& t = o.thresholds;
  t.degradation_fraction = s.get_double("performance_monitoring.alerts.degradation_fraction");
  t.memory_percent = s.get_double("performance_monitoring.alerts.memory_percent");
  t.min_free_storage_gb = s.get_double("performance_monitoring.alerts.min_free_storage_gb");
  t.generation_speed_fps =
      s.get_double("performance_monitoring.performance_targets.generation_speed");
  t.cpu_utilization = s.get_double("performance_monitoring.performance_targets.cpu_utilization");
  t.gpu_temp_c = s.get_double("thermal_management.gpu_temp_target");
  t.cpu_temp_c = s.get_double("thermal_management.cpu_temp_target");
  auto add = [&o](const std::string& p) {
    if (p.empty()) return;
    for (const auto& q : o.paths)
      if (q == p) return;
    o.paths.push_back(p);
  };
  add(s.get_string("generation.model"));
  add(s.get_string("storage_optimization.model_storage_path"));
  add(directory_of(s.get_string("generation.output")));
  std::string tmp = s.get_string("temp_file_optimization.temp_location");
  if (tmp.empty()) {
    const char* e = std::getenv("TMPDIR");
    tmp = e && *e ? e : "/tmp";
  }
  add(tmp);
  return o;
}

// ---------------- Monitor ----------------
Monitor::Monitor(MonitorOptions o) : o_(std::move(o)), alerts_(o_.thresholds) {
  gpu_ = o_.gpu ? o_.gpu : std::shared_ptr<GpuProvider>(make_nvml_provider());
  gpu_status_ = gpu_->status();
  if (!o_.space_reader) o_.space_reader = statvfs_space;
  if (o_.history == 0) o_.history = 1;
  t0_ = std::chrono::steady_clock::now();
  if (!o_.jsonl_path.empty()) {
    jsonl_.open(o_.jsonl_path, std::ios::app);
    if (!jsonl_)
      export_error_ = "cannot open " + o_.jsonl_path + " for appending: " + std::strerror(errno);
  }
}

Monitor::~Monitor() { stop(); }

double Monitor::now_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void Monitor::prime() { prime_at(now_s()); }

void Monitor::prime_at(double t_s) {
  auto stat = read_proc_stat(o_.root);
  auto disks = read_disk_counters(o_.root);
  std::lock_guard<std::mutex> lk(mu_);
  if (stat.known()) last_stat_ = *stat.value;
  if (disks.known()) last_disks_ = *disks.value;
  last_t_ = t_s;
  last_speed_ = speed_.snapshot();
}

MonitorSample Monitor::sample_now() {
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  return sample_at(now_s(), std::chrono::duration_cast<std::chrono::milliseconds>(wall).count());
}

MonitorSample Monitor::sample_at(double t_s, int64_t unix_ms) {
  MonitorSample s;
  s.t_s = t_s;
  s.unix_ms = unix_ms;
  // Readings outside the lock (they may take a few milliseconds).
  s.gpus = gpu_->sample();
  s.gpu_status = gpu_->status();
  auto stat = read_proc_stat(o_.root);
  s.temperatures = collect_temperatures(o_.root);
  s.cpu_temp_c = hottest_cpu(s.temperatures);
  s.memory = collect_memory(o_.root);
  auto disks = read_disk_counters(o_.root);
  for (const auto& p : o_.paths) {
    PathSpace ps = o_.space_reader(p);
    ps.path = p;
    s.paths.push_back(std::move(ps));
  }
  const SpeedCounter::Snapshot sp = speed_.snapshot();

  std::vector<AlertEvent> events;
  std::function<void(const MonitorSample&)> on_sample;
  std::function<void(const AlertEvent&)> on_alert;
  {
    std::lock_guard<std::mutex> lk(mu_);
    s.seq = seq_++;
    const double dt = last_t_ >= 0 ? t_s - last_t_ : 0;
    s.interval_s = dt;
    const std::string first = "first reading: rates need two readings";

    // CPU load
    if (!stat.known()) {
      s.cpu.total = Known<double>::unknown(stat.why);
    } else {
      const ProcStat& cur = *stat.value;
      s.cpu.total =
          last_stat_ ? cpu_busy_fraction(last_stat_->all, cur.all) : Known<double>::unknown(first);
      for (const auto& [n, times] : cur.cores) {
        Known<double> v = Known<double>::unknown(first);
        if (last_stat_) {
          auto it = last_stat_->cores.find(n);
          v = it == last_stat_->cores.end()
                  ? Known<double>::unknown("CPU " + std::to_string(n) + " just came online")
                  : cpu_busy_fraction(it->second, times);
        }
        s.cpu.cores.emplace_back(n, v);
      }
      last_stat_ = cur;
    }

    // disk I/O
    if (!disks.known()) {
      s.disks = Known<std::vector<DiskRate>>::unknown(disks.why);
    } else if (!last_disks_ || !(dt > 0)) {
      s.disks = Known<std::vector<DiskRate>>::unknown(first);
      last_disks_ = *disks.value;
    } else {
      s.disks = Known<std::vector<DiskRate>>::of(disk_rates(*last_disks_, *disks.value, dt));
      last_disks_ = *disks.value;
    }

    // generation speed
    GenerationSpeed& g = s.generation;
    g.steps_done = sp.steps;
    g.frames_done = sp.frames;
    g.jobs_done = sp.jobs;
    const uint64_t new_steps = sp.steps - std::min(sp.steps, last_speed_.steps);
    const double step_s = sp.step_seconds - last_speed_.step_seconds;
    if (new_steps > 0 && step_s > 0)
      g.steps_per_s = Known<double>::of(static_cast<double>(new_steps) / step_s);
    else
      g.steps_per_s = Known<double>::unknown(new_steps ? "steps reported no duration"
                                                       : "no step finished since the last sample");
    if (sp.jobs > 0 && sp.last_job_seconds > 0)
      g.frames_per_s =
          Known<double>::of(static_cast<double>(sp.last_job_frames) / sp.last_job_seconds);
    else
      g.frames_per_s = Known<double>::unknown(sp.jobs ? "the last job reported no duration"
                                                      : "no job finished yet");
    last_speed_ = sp;
    last_t_ = t_s;

    // alerts, history, export
    events = alerts_.update(s);
    for (const auto& a : alerts_.active()) s.alerts.push_back(a.message);
    history_.push_back(s);
    while (history_.size() > o_.history) history_.pop_front();
    if (jsonl_.is_open()) {
      jsonl_ << to_jsonl(s);
      jsonl_.flush();
      if (!jsonl_ && export_error_.empty()) export_error_ = "write to " + o_.jsonl_path + " failed";
    }
    on_sample = on_sample_;
    on_alert = on_alert_;
  }
  for (const auto& e : events) {
    if (o_.log_alerts) {
      if (e.raised)
        LOG_WARN << "monitor alert: " << e.alert.message;
      else
        LOG_INFO << "monitor alert cleared: " << e.alert.message;
    }
    if (on_alert) on_alert(e);
  }
  if (on_sample) on_sample(s);
  return s;
}

std::vector<MonitorSample> Monitor::history() const {
  std::lock_guard<std::mutex> lk(mu_);
  return {history_.begin(), history_.end()};
}

std::optional<MonitorSample> Monitor::latest() const {
  std::lock_guard<std::mutex> lk(mu_);
  if (history_.empty()) return std::nullopt;
  return history_.back();
}

std::vector<Alert> Monitor::active_alerts() const {
  std::lock_guard<std::mutex> lk(mu_);
  return alerts_.active();
}

std::string Monitor::export_error() const {
  std::lock_guard<std::mutex> lk(mu_);
  return export_error_;
}

void Monitor::on_sample(std::function<void(const MonitorSample&)> cb) {
  std::lock_guard<std::mutex> lk(mu_);
  on_sample_ = std::move(cb);
}

void Monitor::on_alert(std::function<void(const AlertEvent&)> cb) {
  std::lock_guard<std::mutex> lk(mu_);
  on_alert_ = std::move(cb);
}

// ---------------- thread ----------------
void Monitor::start() {
  std::lock_guard<std::mutex> lk(run_mu_);
  if (!o_.enabled || running_) return;
  prime();
  stop_ = false;
  running_ = true;
  thread_ = std::thread([this] { loop(); });
}

void Monitor::stop() {
  {
    std::lock_guard<std::mutex> lk(run_mu_);
    if (!running_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lk(run_mu_);
  running_ = false;
}

bool Monitor::running() const {
  std::lock_guard<std::mutex> lk(run_mu_);
  return running_;
}

void Monitor::loop() {
  const auto interval = std::chrono::duration<double>(o_.interval_s > 0 ? o_.interval_s : 1.0);
  std::unique_lock<std::mutex> lk(run_mu_);
  while (!cv_.wait_for(lk, interval, [this] { return stop_; })) {
    lk.unlock();
    try {
      sample_now();
    } catch (const std::exception& e) {
      LOG_WARN << "monitor: sample failed: " << e.what();
    }
    lk.lock();
  }
}

}  // namespace wan22::perf
