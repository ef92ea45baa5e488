#include "perf/thermal.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "config/settings.h"
#include "perf/monitor.h"
#include "perf/sysinfo.h"

namespace wan22::perf {
namespace {

class RealClock : public PaceClock {
 public:
  double now_s() override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void sleep_s(double s) override {
    if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
  }
};

std::string f(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

void keep_max(Known<double>& m, const Known<double>& v) {
  if (v.known() && (!m.known() || *v.value > *m.value)) m = v;
}

}  // namespace

std::shared_ptr<PaceClock> real_pace_clock() { return std::make_shared<RealClock>(); }

bool parse_thermal_scaling(const std::string& s, ThermalScaling* out) {
  if (s == "off")
    *out = ThermalScaling::kOff;
  else if (s == "adaptive")
    *out = ThermalScaling::kAdaptive;
  else if (s == "strict")
    *out = ThermalScaling::kStrict;
  else
    return false;
  return true;
}

ThermalOptions thermal_options(const config::Settings& s) {
  ThermalOptions o;
  o.gpu_target_c = s.get_double("thermal_management.gpu_temp_target");
  o.cpu_target_c = s.get_double("thermal_management.cpu_temp_target");
  if (!parse_thermal_scaling(s.get_string("thermal_management.performance_scaling"), &o.scaling))
    o.scaling = ThermalScaling::kAdaptive;
  o.hysteresis_c = s.get_double("thermal_management.hysteresis_c");
  o.pause_per_degree_s = s.get_double("thermal_management.pause_per_degree_s");
  o.max_pause_s = s.get_double("thermal_management.max_pause_s");
  return o;
}

ThermalReading thermal_reading(const MonitorSample& s) {
  ThermalReading r;
  r.gpu_c = Known<double>::unknown(s.gpus.empty() ? "no GPU visible: " + s.gpu_status
                                                  : "no GPU temperature readable");
  for (const auto& g : s.gpus) {
    if (g.temperature_c.known() && (!r.gpu_c.known() || *g.temperature_c.value > *r.gpu_c.value)) {
      r.gpu_c = g.temperature_c;
      r.gpu_index = static_cast<int>(g.index);
    }
    if (g.throttle_reasons.known() && (*g.throttle_reasons.value & nvml_reason::kThermal)) {
      r.gpu_thermal_slowdown = true;
      if (r.gpu_index < 0) r.gpu_index = static_cast<int>(g.index);
    }
  }
  r.cpu_c = s.cpu_temp_c;
  return r;
}

ThermalSensor monitor_thermal_sensor(const Monitor& m) {
  return [&m] {
    auto s = m.latest();
    if (!s) {
      ThermalReading r;
      r.gpu_c = r.cpu_c = Known<double>::unknown("the monitor has no sample yet");
      return r;
    }
    return thermal_reading(*s);
  };
}

ThermalSensor direct_thermal_sensor(std::shared_ptr<GpuProvider> gpu, std::string root) {
  return [gpu = std::move(gpu), root = std::move(root)] {
    MonitorSample s;
    if (gpu) {
      s.gpus = gpu->sample();
      s.gpu_status = gpu->status();
    } else {
      s.gpu_status = "no GPU provider";
    }
    s.cpu_temp_c = hottest_cpu(collect_temperatures(root));
    return thermal_reading(s);
  };
}

ThermalGovernor::ThermalGovernor(ThermalOptions o, ThermalSensor sensor, Notice notice,
                                 std::shared_ptr<PaceClock> clock)
    : o_(o),
      sensor_(std::move(sensor)),
      notice_(std::move(notice)),
      clock_(clock ? std::move(clock) : real_pace_clock()) {
  last_.gpu_c = last_.cpu_c = Known<double>::unknown("not read yet");
}

void ThermalGovernor::read() {
  try {
    last_ = sensor_ ? sensor_() : ThermalReading{};
  } catch (const std::exception& e) {
    last_ = ThermalReading{};
    last_.gpu_c = last_.cpu_c = Known<double>::unknown(std::string("sensor failed: ") + e.what());
  }
  keep_max(stats_.max_gpu_c, last_.gpu_c);
  keep_max(stats_.max_cpu_c, last_.cpu_c);
  // Hysteresis: hot above target (or thermal slowdown), cool at or below target - hysteresis;
  // an unreadable sensor keeps its state.
  if (last_.gpu_c.known() || last_.gpu_thermal_slowdown) {
    const bool over =
        last_.gpu_thermal_slowdown || (last_.gpu_c.known() && *last_.gpu_c.value > o_.gpu_target_c);
    const bool under = !last_.gpu_thermal_slowdown && last_.gpu_c.known() &&
                       *last_.gpu_c.value <= o_.gpu_target_c - o_.hysteresis_c;
    if (over)
      gpu_hot_ = true;
    else if (under)
      gpu_hot_ = false;
  }
  if (last_.cpu_c.known()) {
    const double c = *last_.cpu_c.value;
    if (c > o_.cpu_target_c)
      cpu_hot_ = true;
    else if (c <= o_.cpu_target_c - o_.hysteresis_c)
      cpu_hot_ = false;
  }
}

double ThermalGovernor::pause_for() const {
  double over = 0;
  if (gpu_hot_ && last_.gpu_c.known()) over = std::max(over, *last_.gpu_c.value - o_.gpu_target_c);
  if (cpu_hot_ && last_.cpu_c.known()) over = std::max(over, *last_.cpu_c.value - o_.cpu_target_c);
  over =
      std::max(over, 1.0);  // in the hysteresis band, or throttling below the target: the minimum
  return std::min(o_.max_pause_s, o_.pause_per_degree_s * over);
}

std::string ThermalGovernor::describe() const {
  std::string out;
  auto add = [&out](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  if (gpu_hot_) {
    const std::string gpu = last_.gpu_index >= 0 ? "GPU " + std::to_string(last_.gpu_index) : "GPU";
    if (last_.gpu_c.known()) {
      const double c = *last_.gpu_c.value;
      add(gpu + f(" at %.0f C", c) + (c > o_.gpu_target_c ? " > " : " near ") +
          f("target %.0f C", o_.gpu_target_c) +
          (last_.gpu_thermal_slowdown ? " (thermal slowdown)" : ""));
    } else {
      add(gpu + " reports thermal slowdown");
    }
  }
  if (cpu_hot_ && last_.cpu_c.known()) {
    const double c = *last_.cpu_c.value;
    add(f("CPU at %.0f C", c) + (c > o_.cpu_target_c ? " > " : " near ") +
        f("target %.0f C", o_.cpu_target_c));
  }
  return out;
}

double ThermalGovernor::between_steps(int step) {
  ++stats_.checks;
  const bool was_gpu_hot = gpu_hot_, was_cpu_hot = cpu_hot_;
  const bool was_hot = was_gpu_hot || was_cpu_hot;
  read();
  if (!said_blind_ && !last_.gpu_c.known() && !last_.cpu_c.known() && !last_.gpu_thermal_slowdown) {
    said_blind_ = true;
    say("thermal governor: no temperature readable (GPU: " + last_.gpu_c.why +
        "; CPU: " + last_.cpu_c.why + "); not pacing");
  }
  if (!hot()) {
    if (was_hot) {
      std::string back;
      if (was_gpu_hot && last_.gpu_c.known())
        back += f("GPU %.0f C", *last_.gpu_c.value) +
                f(" <= %.0f C", o_.gpu_target_c - o_.hysteresis_c);
      if (was_cpu_hot && last_.cpu_c.known())
        back += (back.empty() ? "" : ", ") + f("CPU %.0f C", *last_.cpu_c.value) +
                f(" <= %.0f C", o_.cpu_target_c - o_.hysteresis_c);
      say("thermal: cooled down (" + back + ") after step " + std::to_string(step) +
          ": no more pauses");
    }
    announced_pause_ = -1;
    said_batch_ = false;
    return 0;
  }
  if (!was_hot) ++stats_.hot_spells;

  switch (o_.scaling) {
    case ThermalScaling::kOff:
      if (!was_hot) say(describe() + ": performance_scaling is off, not pacing");
      return 0;
    case ThermalScaling::kAdaptive: {
      const double p = pause_for();
      if (announced_pause_ < 0 || std::fabs(p - announced_pause_) >= 0.5) {
        say(describe() + f(": pausing %.1f s between steps", p));
        announced_pause_ = p;
      }
      clock_->sleep_s(p);
      ++stats_.paused_steps;
      stats_.paused_s += p;
      return p;
    }
    case ThermalScaling::kStrict: {
      say(describe() + ": waiting after step " + std::to_string(step) + " until cooled to " +
          f("%.0f C", (gpu_hot_ ? o_.gpu_target_c : o_.cpu_target_c) - o_.hysteresis_c));
      const double start = clock_->now_s();
      double waited = 0;
      while (hot() && waited < o_.strict_max_wait_s) {
        const double poll =
            std::min(std::max(o_.strict_poll_s, 0.01), o_.strict_max_wait_s - waited);
        clock_->sleep_s(poll);
        waited = clock_->now_s() - start;
        if (waited <= 0) waited += poll;  // a clock that does not move: count the polls
        read();
      }
      ++stats_.paused_steps;
      stats_.paused_s += waited;
      if (hot())
        say(describe() + f(": still hot after waiting %.0f s; continuing", waited));
      else
        say(f("thermal: cooled down after waiting %.1f s; continuing", waited));
      announced_pause_ = -1;
      return waited;
    }
  }
  return 0;
}

bool ThermalGovernor::smaller_batch_recommended() {
  const bool rec = hot() && o_.scaling != ThermalScaling::kOff;
  if (rec && !said_batch_) {
    said_batch_ = true;
    say(describe() + ": recommending the smaller batch (the two CFG branches one after the other)");
  }
  return rec;
}

}  // namespace wan22::perf
