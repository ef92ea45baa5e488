// The thermal governor: between denoising steps it reads the GPU and CPU temperatures, compares
// them with the thermal_management targets and paces the work -- pauses growing with the
// overshoot (capped), or in strict mode waits until cooled -- and, while hot, recommends a smaller
// batch (the two CFG branches one after the other). It says what it does through a notice callback.
//
// Wiring into the pipeline (the StepCallback of Ti2vPipeline::generate):
//   perf::ThermalGovernor gov(perf::thermal_options(settings),
//                             perf::direct_thermal_sensor(perf::make_nvml_provider()),
//                             [](const std::string& n) { std::fprintf(stderr, "%s\n", n.c_str());
//                             });
//   auto on_step = [&](int step, int total, double s) { ...; if (step < total)
//   gov.between_steps(step); };
//
// Hot/cool has hysteresis: a sensor becomes hot above its target (or when NVML reports thermal
// slowdown) and cool again only at or below target - hysteresis_c.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "perf/known.h"

namespace wan22::config {
class Settings;
}

namespace wan22::perf {

class GpuProvider;
class Monitor;
struct MonitorSample;

struct ThermalReading {
  Known<double> gpu_c;                // the hottest GPU
  int gpu_index = -1;                 // which one
  bool gpu_thermal_slowdown = false;  // NVML reports sw/hw thermal slowdown on it
  Known<double> cpu_c;                // the hottest CPU sensor
};
using ThermalSensor = std::function<ThermalReading()>;

// Time source and sleeper (tests use a fake one that only advances a counter).
class PaceClock {
 public:
  virtual ~PaceClock() = default;
  virtual double now_s() = 0;
  virtual void sleep_s(double seconds) = 0;
};
std::shared_ptr<PaceClock> real_pace_clock();

enum class ThermalScaling { kOff, kAdaptive, kStrict };
bool parse_thermal_scaling(const std::string& s, ThermalScaling* out);

struct ThermalOptions {
  double gpu_target_c = 80;
  double cpu_target_c = 75;
  ThermalScaling scaling = ThermalScaling::kAdaptive;
  double hysteresis_c = 3;  // cool again at target - hysteresis
  double pause_per_degree_s =
      0.5;                  // adaptive: pause = this x degrees over target (at least 1 degree)
  double max_pause_s = 10;  // adaptive: cap of one pause
  double strict_max_wait_s = 300;  // strict: longest wait between two steps
  double strict_poll_s = 1;        // strict: sensor re-read interval while waiting
};
// From thermal_management.* (gpu_temp_target, cpu_temp_target, performance_scaling, hysteresis_c,
// pause_per_degree_s, max_pause_s).
ThermalOptions thermal_options(const config::Settings& s);

// Sensors: the monitor's latest sample (no reading before its first sample) ...
ThermalReading thermal_reading(const MonitorSample& s);
ThermalSensor monitor_thermal_sensor(const Monitor& m);
// ... or fresh readings of NVML and /sys (below root) at every call.
ThermalSensor direct_thermal_sensor(std::shared_ptr<GpuProvider> gpu, std::string root = "/");

class ThermalGovernor {
 public:
  using Notice = std::function<void(const std::string&)>;
  ThermalGovernor(ThermalOptions o, ThermalSensor sensor, Notice notice = {},
                  std::shared_ptr<PaceClock> clock = real_pace_clock());

  void set_notice(Notice n) { notice_ = std::move(n); }

  // Call between two denoising steps (step = the step just finished, 1-based). Reads the sensors
  // and pauses when hot. Returns the seconds paused (0 when cool or scaling is off).
  double between_steps(int step);

  // While hot (adaptive or strict): run the CFG branches one after the other instead of as a
  // batch of 2. The first time it answers true in a hot spell it says so through the notice.
  bool smaller_batch_recommended();

  bool hot() const { return gpu_hot_ || cpu_hot_; }
  const ThermalReading& last_reading() const { return last_; }

  struct Stats {
    int checks = 0;        // between_steps calls
    int paused_steps = 0;  // calls that paused
    double paused_s = 0;   // total pause
    int hot_spells = 0;    // cool -> hot transitions
    Known<double> max_gpu_c = Known<double>::unknown("no GPU reading");
    Known<double> max_cpu_c = Known<double>::unknown("no CPU reading");
  };
  const Stats& stats() const { return stats_; }

 private:
  void read();                   // sensor -> last_, hot flags, stats
  double pause_for() const;      // adaptive pause length for the current overshoot
  std::string describe() const;  // "GPU 0 at 87 C > target 83 C" (the hot sensors)
  void say(const std::string& s) const {
    if (notice_) notice_(s);
  }

  ThermalOptions o_;
  ThermalSensor sensor_;
  Notice notice_;
  std::shared_ptr<PaceClock> clock_;
  ThermalReading last_;
  bool gpu_hot_ = false, cpu_hot_ = false;
  bool said_blind_ = false;
  bool said_batch_ = false;
  double announced_pause_ = -1;  // the pause length last announced in this hot spell
  Stats stats_;
};

}  // namespace wan22::perf
