// Alerts: raised once, kept while the value stays in the margin, cleared when back; every kind.
#include <gtest/gtest.h>

#include <algorithm>

#include "perf/monitor.h"
#include "perf/monitor_alerts.h"
#include "test_monitor_util.h"

namespace wan22::perf {
namespace {
using testing::fake_gpu;

constexpr uint64_t kGiB = 1ull << 30;

MonitorSample base_sample(double t) {
  MonitorSample s;
  s.t_s = t;
  s.memory.total_bytes = Known<uint64_t>::of(100 * kGiB);
  s.memory.available_bytes = Known<uint64_t>::of(50 * kGiB);
  s.cpu.total = Known<double>::of(0.9);
  s.cpu_temp_c = Known<double>::of(50);
  s.generation.steps_per_s = Known<double>::unknown("idle");
  s.generation.frames_per_s = Known<double>::unknown("idle");
  return s;
}

std::vector<std::string> keys(const std::vector<AlertEvent>& ev, bool raised) {
  std::vector<std::string> k;
  for (const auto& e : ev)
    if (e.raised == raised) k.push_back(e.alert.key);
  return k;
}

TEST(MonitorAlerts, ThermalThrottlingRaisedOnceAndCleared) {
  AlertTracker tr;
  MonitorSample s = base_sample(0);
  s.gpus = {fake_gpu(0, 70, nvml_reason::kSwThermalSlowdown | nvml_reason::kSwPowerCap)};
  auto ev = tr.update(s);
  ASSERT_EQ(keys(ev, true), std::vector<std::string>{"gpu_throttle:0"});
  EXPECT_EQ(ev[0].alert.kind, "thermal");
  EXPECT_EQ(ev[0].alert.message, "GPU 0 thermal throttling (sw_thermal_slowdown) at 70 C");
  EXPECT_TRUE(tr.update(s).empty()) << "raised once, not at every sample";
  EXPECT_EQ(tr.active().size(), 1u);
  s.gpus = {fake_gpu(0, 70, nvml_reason::kSwPowerCap)};
  ev = tr.update(s);
  ASSERT_EQ(keys(ev, false), std::vector<std::string>{"gpu_throttle:0"});
  EXPECT_EQ(ev[0].str(), "cleared: gpu_throttle:0: GPU 0 no longer throttled at 70 C");
  EXPECT_TRUE(tr.active().empty());
  // Unknown reasons keep the state (no clear, no raise).
  s.gpus = {fake_gpu(0, 70, nvml_reason::kHwThermalSlowdown)};
  EXPECT_EQ(tr.update(s).size(), 1u);
  s.gpus[0].throttle_reasons = Known<uint64_t>::unknown("NVML error");
  EXPECT_TRUE(tr.update(s).empty());
  EXPECT_EQ(tr.active().size(), 1u);
}

TEST(MonitorAlerts, TemperatureOverTargetWithMargin) {
  AlertThresholds th;
  th.gpu_temp_c = 83;
  th.cpu_temp_c = 75;
  AlertTracker tr(th);
  MonitorSample s = base_sample(0);
  s.gpus = {fake_gpu(0, 87)};
  s.cpu_temp_c = Known<double>::of(80);
  auto ev = tr.update(s);
  auto raised = keys(ev, true);
  std::sort(raised.begin(), raised.end());
  EXPECT_EQ(raised, (std::vector<std::string>{"cpu_temp", "gpu_temp:0"}));
  for (const auto& e : ev)
    if (e.alert.key == "gpu_temp:0") {
      EXPECT_EQ(e.alert.message, "GPU 0 at 87 C > target 83 C");
    }
  s.gpus = {fake_gpu(0, 82)};  // under the target, within the 2 C margin: still raised
  s.cpu_temp_c = Known<double>::of(74);
  EXPECT_TRUE(tr.update(s).empty());
  s.gpus = {fake_gpu(0, 81)};
  s.cpu_temp_c = Known<double>::unknown("sensor gone");
  ev = tr.update(s);
  EXPECT_EQ(keys(ev, false), std::vector<std::string>{"gpu_temp:0"});
  EXPECT_EQ(tr.active().size(), 1u) << "the CPU alert stays while its sensor is unreadable";
}

TEST(MonitorAlerts, MemoryNearItsLimit) {
  AlertThresholds th;
  th.memory_percent = 95;
  AlertTracker tr(th);
  MonitorSample s = base_sample(0);
  s.gpus = {fake_gpu(0, 50, 0, 134 * kGiB, 140 * kGiB)};     // 95.7%
  s.memory.available_bytes = Known<uint64_t>::of(3 * kGiB);  // 97%
  auto ev = tr.update(s);
  auto raised = keys(ev, true);
  std::sort(raised.begin(), raised.end());
  ASSERT_EQ(raised, (std::vector<std::string>{"ram", "vram:0"}));
  s.gpus = {fake_gpu(0, 50, 0, 131 * kGiB, 140 * kGiB)};     // 93.6%: within the margin
  s.memory.available_bytes = Known<uint64_t>::of(6 * kGiB);  // 94%
  EXPECT_TRUE(tr.update(s).empty());
  s.gpus = {fake_gpu(0, 50, 0, 100 * kGiB, 140 * kGiB)};
  s.memory.available_bytes = Known<uint64_t>::of(50 * kGiB);
  EXPECT_EQ(keys(tr.update(s), false).size(), 2u);
  EXPECT_TRUE(tr.active().empty());
}

TEST(MonitorAlerts, LowStorage) {
  AlertThresholds th;
  th.min_free_storage_gb = 10;
  AlertTracker tr(th);
  MonitorSample s = base_sample(0);
  auto space = [](uint64_t free) {
    PathSpace p;
    p.path = "/models";
    p.free_bytes = Known<uint64_t>::of(free);
    p.total_bytes = Known<uint64_t>::of(1000 * kGiB);
    return p;
  };
  s.paths = {space(4 * kGiB)};
  auto ev = tr.update(s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].alert.key, "storage:/models");
  EXPECT_EQ(ev[0].alert.message, "low storage: /models has 4.0 GiB free < 10 GiB");
  s.paths = {space(10 * kGiB + kGiB / 2)};
  EXPECT_TRUE(tr.update(s).empty());
  s.paths = {space(20 * kGiB)};
  EXPECT_EQ(keys(tr.update(s), false), std::vector<std::string>{"storage:/models"});
  th.min_free_storage_gb = 0;  // off
  AlertTracker off(th);
  s.paths = {space(0)};
  EXPECT_TRUE(off.update(s).empty());
}

TEST(MonitorAlerts, DegradationAgainstTheRunningMedian) {
  AlertThresholds th;
  th.degradation_fraction = 0.7;
  th.cpu_utilization = 0;
  AlertTracker tr(th);
  double t = 0;
  auto at = [&](double speed) {
    MonitorSample s = base_sample(t++);
    s.gpus = {fake_gpu(0, 50)};
    s.generation.steps_per_s = Known<double>::of(speed);
    return tr.update(s);
  };
  for (double v : {1.0, 1.1, 0.9}) EXPECT_TRUE(at(v).empty());
  EXPECT_TRUE(at(0.8).empty()) << "0.8 >= 0.7 x median 1.0";
  auto ev = at(0.5);
  ASSERT_EQ(keys(ev, true), std::vector<std::string>{"degradation"});
  EXPECT_EQ(ev[0].alert.kind, "degradation");
  EXPECT_NE(ev[0].alert.message.find("0.5 steps/s"), std::string::npos) << ev[0].alert.message;
  // A lasting slowdown stays flagged (slow samples are kept out of the median).
  for (int i = 0; i < 30; ++i) EXPECT_TRUE(at(0.5).empty());
  EXPECT_EQ(keys(at(1.0), false), std::vector<std::string>{"degradation"});
  // Idle samples (no step finished) keep the state.
  MonitorSample idle = base_sample(t++);
  EXPECT_TRUE(tr.update(idle).empty());
}

TEST(MonitorAlerts, NewJobResetsTheMedianAndJudgesItsSpeed) {
  AlertThresholds th;
  th.generation_speed_fps = 0.5;
  th.cpu_utilization = 0;
  AlertTracker tr(th);
  MonitorSample s = base_sample(0);
  for (double v : {2.0, 2.0, 2.0}) {
    s.generation.steps_per_s = Known<double>::of(v);
    tr.update(s);
  }
  s.generation.steps_per_s = Known<double>::of(0.5);
  EXPECT_EQ(keys(tr.update(s), true), std::vector<std::string>{"degradation"});
  // The job ends slowly: the degradation alert clears (new job, new median), the speed target
  // alerts.
  s.generation.jobs_done = 1;
  s.generation.steps_per_s = Known<double>::unknown("no step");
  s.generation.frames_per_s = Known<double>::of(0.2);
  auto ev = tr.update(s);
  EXPECT_EQ(keys(ev, false), std::vector<std::string>{"degradation"});
  EXPECT_EQ(keys(ev, true), std::vector<std::string>{"generation_speed"});
  // The next job at 0.5 steps/s is not compared with the old job's 2.0.
  s.generation.steps_per_s = Known<double>::of(0.5);
  EXPECT_TRUE(tr.update(s).empty());
  s.generation.jobs_done = 2;
  s.generation.frames_per_s = Known<double>::of(1.5);
  EXPECT_EQ(keys(tr.update(s), false), std::vector<std::string>{"generation_speed"});
}

TEST(MonitorAlerts, CpuUnderUseOnlyWhileCpuBound) {
  AlertThresholds th;
  th.cpu_utilization = 0.7;
  AlertTracker tr(th);
  MonitorSample s = base_sample(0);
  s.cpu.total = Known<double>::of(0.3);
  EXPECT_TRUE(tr.update(s).empty()) << "no steps running";
  s.generation.steps_per_s = Known<double>::of(1.0);
  s.gpus = {fake_gpu(0, 50)};  // 97% busy: GPU-bound
  EXPECT_TRUE(tr.update(s).empty());
  s.gpus.clear();
  auto ev = tr.update(s);
  ASSERT_EQ(keys(ev, true), std::vector<std::string>{"cpu_underuse"});
  EXPECT_EQ(ev[0].alert.message, "CPU under-used while generating: 30% < target 70%");
  s.cpu.total = Known<double>::of(0.95);
  EXPECT_EQ(keys(tr.update(s), false), std::vector<std::string>{"cpu_underuse"});
}

TEST(MonitorAlerts, MonitorReportsEventsAndActiveAlerts) {
  testing::FakeTree t;
  t.write("/proc/meminfo", "MemTotal: 1000 kB\nMemAvailable: 10 kB\n");
  auto gpus = std::make_shared<testing::FakeGpus>();
  gpus->gpus = {fake_gpu(0, 95, nvml_reason::kHwThermalSlowdown)};
  MonitorOptions o;
  o.root = t.root();
  o.gpu = gpus;
  o.log_alerts = true;  // logged as warnings; must not disturb anything
  Monitor m(o);
  std::vector<AlertEvent> events;
  m.on_alert([&events](const AlertEvent& e) { events.push_back(e); });
  MonitorSample s = m.sample_at(0, 0);
  EXPECT_EQ(events.size(), 3u);  // throttling, temperature, RAM 99%
  EXPECT_EQ(s.alerts.size(), 3u);
  m.sample_at(1, 0);
  EXPECT_EQ(events.size(), 3u) << "de-duplicated";
  gpus->gpus = {fake_gpu(0, 60)};
  MonitorSample cool = m.sample_at(2, 0);
  EXPECT_EQ(events.size(), 5u);
  EXPECT_FALSE(events.back().raised);
  ASSERT_EQ(cool.alerts.size(), 1u);
  EXPECT_EQ(m.active_alerts().size(), 1u);
  EXPECT_NE(to_text(cool).find("ALERT  RAM 99% used"), std::string::npos) << to_text(cool);
}

}  // namespace
}  // namespace wan22::perf
