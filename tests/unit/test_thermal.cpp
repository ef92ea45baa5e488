// The thermal governor with injected sensor readings and a fake clock: pauses when hot, not when
// cool, hysteresis, the cap, strict waiting, off mode, batch advice, notices.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "config/settings.h"
#include "perf/monitor.h"
#include "perf/thermal.h"
#include "test_monitor_util.h"

namespace wan22::perf {
namespace {
using testing::fake_gpu;

class FakeClock : public PaceClock {
 public:
  double t = 1000;
  std::vector<double> sleeps;
  double now_s() override { return t; }
  void sleep_s(double s) override {
    sleeps.push_back(s);
    t += s;
  }
};

// Readings in order; the last one repeats.
struct Script {
  std::deque<ThermalReading> readings;
  int reads = 0;
  ThermalSensor sensor() {
    return [this] {
      ++reads;
      ThermalReading r = readings.front();
      if (readings.size() > 1) readings.pop_front();
      return r;
    };
  }
};

ThermalReading gpu_at(double c, bool slowdown = false) {
  ThermalReading r;
  r.gpu_c = Known<double>::of(c);
  r.gpu_index = 0;
  r.gpu_thermal_slowdown = slowdown;
  r.cpu_c = Known<double>::of(50);
  return r;
}
ThermalReading cpu_at(double c) {
  ThermalReading r;
  r.gpu_c = Known<double>::unknown("no GPU visible: test");
  r.cpu_c = Known<double>::of(c);
  return r;
}

struct Rig {
  Script script;
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::vector<std::string> notices;
  ThermalGovernor make(ThermalOptions o) {
    return ThermalGovernor(
        o, script.sensor(), [this](const std::string& n) { notices.push_back(n); }, clock);
  }
};

ThermalOptions opts(double gpu_target = 83) {
  ThermalOptions o;
  o.gpu_target_c = gpu_target;
  o.cpu_target_c = 75;
  o.hysteresis_c = 3;
  o.pause_per_degree_s = 0.5;
  o.max_pause_s = 10;
  return o;
}

TEST(Thermal, CoolMeansNoPauseAndNoNotice) {
  Rig r;
  r.script.readings = {gpu_at(70)};
  auto gov = r.make(opts());
  for (int step = 1; step <= 5; ++step) EXPECT_EQ(gov.between_steps(step), 0.0);
  EXPECT_TRUE(r.clock->sleeps.empty());
  EXPECT_TRUE(r.notices.empty());
  EXPECT_FALSE(gov.hot());
  EXPECT_FALSE(gov.smaller_batch_recommended());
  EXPECT_EQ(gov.stats().checks, 5);
  EXPECT_EQ(r.script.reads, 5);
}

TEST(Thermal, HotPausesInProportionWithANotice) {
  Rig r;
  r.script.readings = {gpu_at(87)};
  auto gov = r.make(opts());
  EXPECT_DOUBLE_EQ(gov.between_steps(1), 2.0);
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0], "GPU 0 at 87 C > target 83 C: pausing 2.0 s between steps");
  EXPECT_DOUBLE_EQ(gov.between_steps(2), 2.0);
  EXPECT_EQ(r.notices.size(), 1u) << "same pause: no repeated notice";
  EXPECT_EQ(r.clock->sleeps, (std::vector<double>{2.0, 2.0}));
  EXPECT_EQ(gov.stats().paused_steps, 2);
  EXPECT_DOUBLE_EQ(gov.stats().paused_s, 4.0);
  EXPECT_EQ(gov.stats().hot_spells, 1);
  EXPECT_DOUBLE_EQ(*gov.stats().max_gpu_c.value, 87);
}

TEST(Thermal, PauseGrowsWithTheOvershootAndIsCapped) {
  Rig r;
  r.script.readings = {gpu_at(85), gpu_at(89), gpu_at(110)};
  auto gov = r.make(opts());
  EXPECT_DOUBLE_EQ(gov.between_steps(1), 1.0);
  EXPECT_DOUBLE_EQ(gov.between_steps(2), 3.0);
  EXPECT_DOUBLE_EQ(gov.between_steps(3), 10.0);  // 27 C over: 13.5 s capped at 10
  ASSERT_EQ(r.notices.size(), 3u);
  EXPECT_EQ(r.notices[2], "GPU 0 at 110 C > target 83 C: pausing 10.0 s between steps");
}

TEST(Thermal, HysteresisKeepsPacingUntilWellUnderTheTarget) {
  Rig r;
  // hot, inside the band (80 < t <= 83), at the band's lower edge (cool), just under target again.
  r.script.readings = {gpu_at(87), gpu_at(82), gpu_at(80), gpu_at(83)};
  auto gov = r.make(opts());
  EXPECT_DOUBLE_EQ(gov.between_steps(1), 2.0);
  EXPECT_DOUBLE_EQ(gov.between_steps(2), 0.5) << "in the hysteresis band: the minimum pause";
  EXPECT_TRUE(gov.hot());
  EXPECT_EQ(gov.between_steps(3), 0.0);
  EXPECT_FALSE(gov.hot());
  EXPECT_EQ(gov.between_steps(4), 0.0) << "83 C is not over the 83 C target";
  ASSERT_EQ(r.notices.size(), 3u);
  EXPECT_EQ(r.notices[1], "GPU 0 at 82 C near target 83 C: pausing 0.5 s between steps");
  EXPECT_EQ(r.notices[2], "thermal: cooled down (GPU 80 C <= 80 C) after step 3: no more pauses");
}

TEST(Thermal, NvmlThermalSlowdownCountsAsHotBelowTheTarget) {
  Rig r;
  r.script.readings = {gpu_at(78, true), gpu_at(78, false)};
  auto gov = r.make(opts());
  EXPECT_DOUBLE_EQ(gov.between_steps(1), 0.5);
  EXPECT_EQ(r.notices[0],
            "GPU 0 at 78 C near target 83 C (thermal slowdown): pausing 0.5 s between steps");
  EXPECT_EQ(gov.between_steps(2), 0.0);  // 78 <= 80 and no slowdown: cool
}

TEST(Thermal, CpuOverItsTarget) {
  Rig r;
  r.script.readings = {cpu_at(79), cpu_at(71)};
  auto gov = r.make(opts());
  EXPECT_DOUBLE_EQ(gov.between_steps(1), 2.0);
  EXPECT_EQ(r.notices[0], "CPU at 79 C > target 75 C: pausing 2.0 s between steps");
  EXPECT_EQ(gov.between_steps(2), 0.0);
  EXPECT_EQ(r.notices.back(),
            "thermal: cooled down (CPU 71 C <= 72 C) after step 2: no more pauses");
}

TEST(Thermal, OffOnlyWarnsOnce) {
  Rig r;
  r.script.readings = {gpu_at(90)};
  ThermalOptions o = opts();
  o.scaling = ThermalScaling::kOff;
  auto gov = r.make(o);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(gov.between_steps(i), 0.0);
  EXPECT_TRUE(r.clock->sleeps.empty());
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0], "GPU 0 at 90 C > target 83 C: performance_scaling is off, not pacing");
  EXPECT_FALSE(gov.smaller_batch_recommended());
}

TEST(Thermal, StrictWaitsUntilCooled) {
  Rig r;
  r.script.readings = {gpu_at(90), gpu_at(88), gpu_at(84), gpu_at(81), gpu_at(79), gpu_at(70)};
  ThermalOptions o = opts();
  o.scaling = ThermalScaling::kStrict;
  o.strict_poll_s = 1;
  auto gov = r.make(o);
  EXPECT_DOUBLE_EQ(gov.between_steps(7), 4.0);  // four polls: 88, 84, 81, 79 (<= 80: cool)
  EXPECT_EQ(r.clock->sleeps, (std::vector<double>{1, 1, 1, 1}));
  ASSERT_EQ(r.notices.size(), 2u);
  EXPECT_EQ(r.notices[0], "GPU 0 at 90 C > target 83 C: waiting after step 7 until cooled to 80 C");
  EXPECT_EQ(r.notices[1], "thermal: cooled down after waiting 4.0 s; continuing");
  EXPECT_EQ(gov.between_steps(8), 0.0);
}

TEST(Thermal, StrictGivesUpAfterItsLimit) {
  Rig r;
  r.script.readings = {gpu_at(95)};
  ThermalOptions o = opts();
  o.scaling = ThermalScaling::kStrict;
  o.strict_poll_s = 2;
  o.strict_max_wait_s = 7;
  auto gov = r.make(o);
  EXPECT_DOUBLE_EQ(gov.between_steps(1), 7.0);
  EXPECT_EQ(r.clock->sleeps, (std::vector<double>{2, 2, 2, 1}));
  EXPECT_EQ(r.notices.back(),
            "GPU 0 at 95 C > target 83 C: still hot after waiting 7 s; continuing");
}

TEST(Thermal, SmallerBatchRecommendedWhileHot) {
  Rig r;
  r.script.readings = {gpu_at(86), gpu_at(86), gpu_at(75)};
  auto gov = r.make(opts());
  EXPECT_FALSE(gov.smaller_batch_recommended()) << "nothing read yet";
  gov.between_steps(1);
  EXPECT_TRUE(gov.smaller_batch_recommended());
  EXPECT_TRUE(gov.smaller_batch_recommended());
  size_t batch_notices = 0;
  for (const auto& n : r.notices) batch_notices += n.find("smaller batch") != std::string::npos;
  EXPECT_EQ(batch_notices, 1u);
  EXPECT_EQ(r.notices.back(),
            "GPU 0 at 86 C > target 83 C: recommending the smaller batch (the two CFG branches one "
            "after the other)");
  gov.between_steps(2);
  gov.between_steps(3);
  EXPECT_FALSE(gov.smaller_batch_recommended());
}

TEST(Thermal, NoSensorsSaysSoOnceAndNeverPauses) {
  Rig r;
  ThermalReading none;
  none.gpu_c = Known<double>::unknown("NVML not available");
  none.cpu_c = Known<double>::unknown("no CPU sensor");
  r.script.readings = {none};
  auto gov = r.make(opts());
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(gov.between_steps(i), 0.0);
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0],
            "thermal governor: no temperature readable (GPU: NVML not available; CPU: no CPU "
            "sensor); not pacing");
}

TEST(Thermal, ThrowingSensorIsNotFatal) {
  auto clock = std::make_shared<FakeClock>();
  std::vector<std::string> notices;
  ThermalGovernor gov(
      opts(), []() -> ThermalReading { throw std::runtime_error("boom"); },
      [&notices](const std::string& n) { notices.push_back(n); }, clock);
  EXPECT_EQ(gov.between_steps(1), 0.0);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("sensor failed: boom"), std::string::npos) << notices[0];
}

TEST(Thermal, ReadingFromSamplesAndSensors) {
  MonitorSample s;
  s.gpus = {fake_gpu(0, 70), fake_gpu(1, 88), fake_gpu(2, 60, nvml_reason::kHwThermalSlowdown)};
  s.cpu_temp_c = Known<double>::of(66);
  ThermalReading r = thermal_reading(s);
  EXPECT_DOUBLE_EQ(*r.gpu_c.value, 88);
  EXPECT_EQ(r.gpu_index, 1);
  EXPECT_TRUE(r.gpu_thermal_slowdown);
  EXPECT_DOUBLE_EQ(*r.cpu_c.value, 66);
  MonitorSample empty;
  empty.gpu_status = "NVML not available";
  empty.cpu_temp_c = Known<double>::unknown("none");
  ThermalReading e = thermal_reading(empty);
  EXPECT_FALSE(e.gpu_c.known());
  EXPECT_NE(e.gpu_c.why.find("NVML not available"), std::string::npos);

  testing::FakeTree t;
  t.write("/sys/class/hwmon/hwmon0/name", "k10temp\n");
  t.write("/sys/class/hwmon/hwmon0/temp1_input", "77500\n");
  auto gpus = std::make_shared<testing::FakeGpus>();
  gpus->gpus = {fake_gpu(0, 81)};
  ThermalSensor direct = direct_thermal_sensor(gpus, t.root());
  ThermalReading d = direct();
  EXPECT_DOUBLE_EQ(*d.gpu_c.value, 81);
  EXPECT_DOUBLE_EQ(*d.cpu_c.value, 77.5);
  direct();
  EXPECT_EQ(gpus->calls, 2) << "fresh readings at every call";

  MonitorOptions mo;
  mo.root = t.root();
  mo.gpu = gpus;
  mo.log_alerts = false;
  Monitor m(mo);
  ThermalSensor from_monitor = monitor_thermal_sensor(m);
  EXPECT_FALSE(from_monitor().gpu_c.known());
  m.sample_at(0, 0);
  EXPECT_DOUBLE_EQ(*from_monitor().gpu_c.value, 81);
}

TEST(Thermal, OptionsFromSettings) {
  config::Settings s;
  ThermalOptions d = thermal_options(s);
  EXPECT_DOUBLE_EQ(d.gpu_target_c, 80);
  EXPECT_DOUBLE_EQ(d.cpu_target_c, 75);
  EXPECT_EQ(d.scaling, ThermalScaling::kAdaptive);
  s.set_cli("thermal_management.performance_scaling", "strict");
  s.set_cli("thermal_management.gpu_temp_target", "83");
  s.set_cli("thermal_management.max_pause_s", "4");
  s.set_cli("thermal_management.hysteresis_c", "5");
  ThermalOptions o = thermal_options(s);
  EXPECT_EQ(o.scaling, ThermalScaling::kStrict);
  EXPECT_DOUBLE_EQ(o.gpu_target_c, 83);
  EXPECT_DOUBLE_EQ(o.max_pause_s, 4);
  EXPECT_DOUBLE_EQ(o.hysteresis_c, 5);
  ThermalScaling x;
  EXPECT_FALSE(parse_thermal_scaling("fast", &x));
}

}  // namespace
}  // namespace wan22::perf
