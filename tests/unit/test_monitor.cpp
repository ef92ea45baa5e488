// The monitor on fake /proc + /sys trees (normal, missing files, garbage) with a fake GPU provider:
// readings, rates, history, JSON-lines export and round trip, the sampler thread, config options.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "config/settings.h"
#include "perf/monitor.h"
#include "test_monitor_util.h"

namespace wan22::perf {
namespace {
using testing::fake_gpu;
using testing::FakeGpus;
using testing::FakeTree;

void write_normal(const FakeTree& t, bool later) {
  t.write("/proc/stat", later ? "cpu  200 0 100 800 100 0 0 0 0 0\ncpu0 140 0 50 360 50 0 0 0 0 0\n"
                                "cpu1 60 0 50 440 50 0 0 0 0 0\n"
                              : "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 50 0 50 350 50 0 0 0 0 0\n"
                                "cpu1 50 0 50 350 50 0 0 0 0 0\n");
  t.write("/proc/meminfo",
          "MemTotal:       16384000 kB\nMemFree:  100 kB\nMemAvailable:    4096000 kB\n");
  t.write("/proc/diskstats",
          later ? "   8       0 sda 1100 0 6096 110 600 0 12192 220 0 800 320 0 0 0 0\n"
                : "   8       0 sda 1000 0 2000 100 500 0 4000 200 0 300 300 0 0 0 0\n");
  t.write("/sys/block/sda/dev", "8:0\n");
  t.write("/sys/class/hwmon/hwmon0/name", "coretemp\n");
  t.write("/sys/class/hwmon/hwmon0/temp1_input", "61000\n");
  t.write("/sys/class/hwmon/hwmon0/temp1_label", "Package id 0\n");
  t.write("/sys/class/hwmon/hwmon1/name", "nvme\n");
  t.write("/sys/class/hwmon/hwmon1/temp1_input", "45000\n");
}

MonitorOptions fake_options(const FakeTree& t, std::shared_ptr<GpuProvider> gpu,
                            uint64_t free_bytes = 100ull << 30) {
  MonitorOptions o;
  o.root = t.root();
  o.gpu = std::move(gpu);
  o.paths = {"/models", "/out"};
  o.space_reader = [free_bytes](const std::string& p) {
    PathSpace s;
    s.path = p;
    s.free_bytes = Known<uint64_t>::of(free_bytes);
    s.total_bytes = Known<uint64_t>::of(1000ull << 30);
    return s;
  };
  o.log_alerts = false;
  return o;
}

TEST(Monitor, NormalTreeReadingsAndRates) {
  FakeTree t;
  write_normal(t, false);
  auto gpus = std::make_shared<FakeGpus>();
  gpus->gpus = {fake_gpu(0, 65, nvml_reason::kSwPowerCap)};
  Monitor m(fake_options(t, gpus));
  m.prime_at(10.0);
  write_normal(t, true);
  MonitorSample s = m.sample_at(12.0, 1700000000000);

  EXPECT_EQ(s.seq, 0u);
  EXPECT_DOUBLE_EQ(s.interval_s, 2.0);
  ASSERT_TRUE(s.cpu.total.known()) << s.cpu.total.why;
  EXPECT_DOUBLE_EQ(*s.cpu.total.value, 0.5);
  ASSERT_EQ(s.cpu.cores.size(), 2u);
  EXPECT_DOUBLE_EQ(*s.cpu.cores[0].second.value, 0.9);
  EXPECT_DOUBLE_EQ(*s.cpu.cores[1].second.value, 0.1);
  ASSERT_TRUE(s.cpu_temp_c.known()) << s.cpu_temp_c.why;
  EXPECT_DOUBLE_EQ(*s.cpu_temp_c.value, 61.0);  // coretemp, not the nvme sensor
  EXPECT_EQ(s.temperatures.size(), 2u);
  EXPECT_EQ(*s.memory.total_bytes.value, 16384000ull * 1024);
  EXPECT_EQ(*s.memory.available_bytes.value, 4096000ull * 1024);
  ASSERT_TRUE(s.disks.known()) << s.disks.why;
  ASSERT_EQ(s.disks.value->size(), 1u);
  EXPECT_DOUBLE_EQ((*s.disks.value)[0].read_bytes_per_s, 4096.0 * 512 / 2);
  EXPECT_DOUBLE_EQ((*s.disks.value)[0].busy, 0.25);
  ASSERT_EQ(s.paths.size(), 2u);
  EXPECT_EQ(s.paths[1].path, "/out");
  ASSERT_EQ(s.gpus.size(), 1u);
  EXPECT_EQ(s.gpu_status, "ok: fake GPUs");
  EXPECT_TRUE(s.alerts.empty()) << s.alerts.front();  // power capping is not a thermal alert

  const std::string text = to_text(s);
  for (const char* want :
       {"GPU 0  Fake H200: util 97%", "VRAM 40.0/140.0 GiB (29%)", "65 C", "612/700 W",
        "SM 1980 MHz", "throttle: sw_power_cap", "CPU    50% of 2 CPUs, temp 61.0 C", "  90  10",
        "RAM    11.7/15.6 GiB used (75%)", "disk   sda: read 1.0 MB/s",
        "space  /models: 100.0 GiB free", "alerts none"})
    EXPECT_NE(text.find(want), std::string::npos) << "missing '" << want << "' in\n" << text;
}

TEST(Monitor, FirstSampleWithoutPrimeHasNoRates) {
  FakeTree t;
  write_normal(t, false);
  Monitor m(fake_options(t, std::make_shared<FakeGpus>()));
  MonitorSample s = m.sample_at(1.0, 0);
  EXPECT_FALSE(s.cpu.total.known());
  EXPECT_NE(s.cpu.total.why.find("first reading"), std::string::npos) << s.cpu.total.why;
  EXPECT_FALSE(s.disks.known());
  EXPECT_TRUE(s.memory.total_bytes.known());
  write_normal(t, true);
  MonitorSample s2 = m.sample_at(3.0, 0);
  EXPECT_TRUE(s2.cpu.total.known());
  EXPECT_TRUE(s2.disks.known());
  EXPECT_EQ(s2.seq, 1u);
}

TEST(Monitor, MissingFilesAndNoGpuSayWhy) {
  FakeTree t;  // empty: no /proc, no /sys
  MonitorOptions o = fake_options(
      t, std::shared_ptr<GpuProvider>(make_no_gpu_provider("NVML not available: test")));
  Monitor m(o);
  m.prime_at(0);
  MonitorSample s = m.sample_at(1, 0);
  EXPECT_TRUE(s.gpus.empty());
  EXPECT_EQ(s.gpu_status, "NVML not available: test");
  EXPECT_FALSE(s.cpu.total.known());
  EXPECT_NE(s.cpu.total.why.find("/proc/stat"), std::string::npos) << s.cpu.total.why;
  EXPECT_FALSE(s.cpu_temp_c.known());
  EXPECT_FALSE(s.memory.total_bytes.known());
  EXPECT_FALSE(s.disks.known());
  EXPECT_NE(s.disks.why.find("/proc/diskstats"), std::string::npos) << s.disks.why;
  const std::string text = to_text(s);
  EXPECT_NE(text.find("GPU    none visible: NVML not available: test"), std::string::npos) << text;
  EXPECT_NE(text.find("RAM    unknown"), std::string::npos) << text;
  // JSON names the reasons.
  auto j = to_json(s);
  EXPECT_TRUE(j["cpu"]["util"].is_null());
  EXPECT_TRUE(j["cpu"]["unknown"]["util"].is_string());
  EXPECT_TRUE(j["disks"].is_null());
  EXPECT_TRUE(j["unknown"]["disks"].is_string());
}

TEST(Monitor, GarbageTreeNeverCrashes) {
  FakeTree t;
  const std::string junk("\x00\xff\xfe garbage \n\n-1 -2 -3\n99999999999999999999999\n", 49);
  for (const char* f :
       {"/proc/stat", "/proc/meminfo", "/proc/diskstats", "/sys/class/hwmon/hwmon0/name",
        "/sys/class/hwmon/hwmon0/temp1_input", "/sys/class/hwmon/hwmon0/temp1_label",
        "/sys/class/thermal/thermal_zone0/type", "/sys/class/thermal/thermal_zone0/temp",
        "/sys/block/sda/dev"})
    t.write(f, junk);
  t.write("/sys/class/hwmon/hwmon1/name", "coretemp\n");
  t.write("/sys/class/hwmon/hwmon1/temp1_input", "999999999\n");  // 999999 C: implausible
  t.write("/sys/class/hwmon/hwmon1/temp2_input", "");
  t.mkdir("/sys/class/hwmon/hwmon1/temp3_input");  // a directory where a file should be
  t.mkdir("/proc/self");
  Monitor m(fake_options(t, std::shared_ptr<GpuProvider>(make_no_gpu_provider("no GPU"))));
  m.prime_at(0);
  for (int i = 1; i <= 3; ++i) {
    MonitorSample s = m.sample_at(i, 0);
    EXPECT_FALSE(s.cpu.total.known());
    EXPECT_FALSE(s.cpu_temp_c.known());
    EXPECT_FALSE(s.memory.total_bytes.known());
    ASSERT_TRUE(s.disks.known());  // readable file without a valid line: no disks
    EXPECT_TRUE(s.disks.value->empty());
    EXPECT_FALSE(to_text(s).empty());
    EXPECT_FALSE(to_jsonl(s).empty());
  }
}

TEST(Monitor, CountersGoingBackAreUnknownNotNegative) {
  FakeTree t;
  write_normal(t, true);
  Monitor m(fake_options(t, std::make_shared<FakeGpus>()));
  m.prime_at(0);
  write_normal(t, false);  // every counter smaller: a reboot or a wrap
  MonitorSample s = m.sample_at(1, 0);
  EXPECT_FALSE(s.cpu.total.known());
  ASSERT_TRUE(s.disks.known());
  EXPECT_TRUE(s.disks.value->empty());
}

TEST(Monitor, GenerationSpeedFromTheCounter) {
  FakeTree t;
  write_normal(t, false);
  Monitor m(fake_options(t, std::make_shared<FakeGpus>()));
  m.prime_at(0);
  MonitorSample idle = m.sample_at(1, 0);
  EXPECT_FALSE(idle.generation.steps_per_s.known());
  for (int i = 0; i < 4; ++i) m.speed().step_done(0.5);
  MonitorSample s = m.sample_at(3, 0);
  ASSERT_TRUE(s.generation.steps_per_s.known());
  EXPECT_DOUBLE_EQ(*s.generation.steps_per_s.value, 2.0);
  EXPECT_EQ(s.generation.steps_done, 4u);
  m.speed().job_done(49, 98.0);
  MonitorSample j = m.sample_at(4, 0);
  EXPECT_FALSE(j.generation.steps_per_s.known());
  ASSERT_TRUE(j.generation.frames_per_s.known());
  EXPECT_DOUBLE_EQ(*j.generation.frames_per_s.value, 0.5);
  EXPECT_EQ(j.generation.frames_done, 49u);
  EXPECT_NE(to_text(j).find("speed"), std::string::npos);
}

TEST(Monitor, HistoryRingKeepsTheNewest) {
  FakeTree t;
  write_normal(t, false);
  MonitorOptions o = fake_options(t, std::make_shared<FakeGpus>());
  o.history = 3;
  Monitor m(o);
  EXPECT_FALSE(m.latest());
  for (int i = 0; i < 5; ++i) m.sample_at(i, 0);
  auto h = m.history();
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h.front().seq, 2u);
  EXPECT_EQ(h.back().seq, 4u);
  EXPECT_EQ(m.latest()->seq, 4u);
}

TEST(Monitor, JsonRoundTrip) {
  FakeTree t;
  write_normal(t, false);
  auto gpus = std::make_shared<FakeGpus>();
  NvmlGpu partial = fake_gpu(1, 91, nvml_reason::kHwThermalSlowdown | nvml_reason::kSwPowerCap);
  partial.power_usage_watts =
      Known<double>::unknown("nvmlDeviceGetPowerUsage failed: Not Supported");
  gpus->gpus = {fake_gpu(0, 70.5), partial};
  Monitor m(fake_options(t, gpus));
  m.prime_at(0);
  write_normal(t, true);
  m.speed().step_done(0.25);
  MonitorSample s = m.sample_at(2.5, 1700000000123);
  ASSERT_FALSE(s.alerts.empty());

  const std::string line = to_jsonl(s);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per sample";
  auto j = nlohmann::json::parse(line);
  MonitorSample back = sample_from_json(j);
  EXPECT_EQ(to_json(back), to_json(s));
  EXPECT_EQ(back.unix_ms, 1700000000123);
  ASSERT_EQ(back.gpus.size(), 2u);
  EXPECT_FALSE(back.gpus[1].power_usage_watts.known());
  EXPECT_EQ(back.gpus[1].power_usage_watts.why, "nvmlDeviceGetPowerUsage failed: Not Supported");
  EXPECT_EQ(j["gpus"][1]["throttle_reasons"],
            nlohmann::json({"sw_power_cap", "hw_thermal_slowdown"}));
  EXPECT_DOUBLE_EQ(*back.cpu.cores[0].second.value, 0.9);
  EXPECT_EQ(back.alerts, s.alerts);
  // Every monitored GPU field is in the JSON.
  for (const char* k :
       {"index", "name", "util_pct", "mem_util_pct", "vram_used_bytes", "vram_total_bytes",
        "temp_c", "slowdown_temp_c", "power_w", "power_limit_w", "clock_sm_mhz", "clock_mem_mhz",
        "clock_graphics_mhz", "throttle_mask", "throttle_reasons"})
    EXPECT_TRUE(j["gpus"][0].contains(k)) << k;
  // Junk never throws.
  EXPECT_NO_THROW(
      sample_from_json(nlohmann::json::parse(R"({"gpus": [1, "x", {"temp_c": "hot"}], "cpu": 3,
    "disks": {"a": 1}, "paths": [null], "alerts": [1, "a"], "seq": -4})")));
  EXPECT_NO_THROW(sample_from_json(nlohmann::json(42)));
}

TEST(Monitor, JsonlExportOneLinePerSample) {
  FakeTree t;
  write_normal(t, false);
  MonitorOptions o = fake_options(t, std::make_shared<FakeGpus>());
  o.jsonl_path = t.root() + "/samples.jsonl";
  {
    Monitor m(o);
    EXPECT_EQ(m.export_error(), "");
    for (int i = 0; i < 3; ++i) m.sample_at(i, 1000 + i);
  }
  std::ifstream in(o.jsonl_path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["seq"], n);
    EXPECT_EQ(j["unix_ms"], 1000 + n);
    ++n;
  }
  EXPECT_EQ(n, 3);
  o.jsonl_path = t.root() + "/no/such/dir/x.jsonl";
  Monitor bad(o);
  EXPECT_NE(bad.export_error().find("cannot open"), std::string::npos) << bad.export_error();
}

TEST(Monitor, SamplerThreadTakesSamplesUntilStopped) {
  FakeTree t;
  write_normal(t, false);
  MonitorOptions o = fake_options(t, std::make_shared<FakeGpus>());
  o.interval_s = 0.02;
  Monitor m(o);
  int seen = 0;
  m.on_sample([&seen](const MonitorSample&) { ++seen; });
  m.start();
  EXPECT_TRUE(m.running());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (m.history().size() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  m.stop();
  EXPECT_FALSE(m.running());
  const size_t n = m.history().size();
  EXPECT_GE(n, 3u);
  EXPECT_EQ(static_cast<size_t>(seen), n);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(m.history().size(), n) << "no sample after stop()";

  o.enabled = false;
  Monitor off(o);
  off.start();
  EXPECT_FALSE(off.running());
}

TEST(Monitor, OptionsFromSettings) {
  config::Settings s;
  MonitorOptions d = monitor_options(s);
  EXPECT_TRUE(d.enabled);
  EXPECT_DOUBLE_EQ(d.interval_s, 5);
  EXPECT_DOUBLE_EQ(d.thresholds.gpu_temp_c, 80);
  EXPECT_DOUBLE_EQ(d.thresholds.cpu_temp_c, 75);
  EXPECT_DOUBLE_EQ(d.thresholds.generation_speed_fps, 0.5);
  EXPECT_FALSE(d.paths.empty());
  s.set_cli("performance_monitoring.metrics_interval", "0.5");
  s.set_cli("performance_monitoring.alerts.memory_percent", "90");
  s.set_cli("performance_monitoring.alerts.min_free_storage_gb", "3");
  s.set_cli("thermal_management.gpu_temp_target", "83");
  s.set_cli("generation.output", "/data/out/video.mp4");
  s.set_cli("generation.model", "/models/Wan2.2-TI2V-5B");
  MonitorOptions o = monitor_options(s);
  EXPECT_DOUBLE_EQ(o.interval_s, 0.5);
  EXPECT_DOUBLE_EQ(o.thresholds.memory_percent, 90);
  EXPECT_DOUBLE_EQ(o.thresholds.min_free_storage_gb, 3);
  EXPECT_DOUBLE_EQ(o.thresholds.gpu_temp_c, 83);
  ASSERT_GE(o.paths.size(), 3u);
  EXPECT_EQ(o.paths[0], "/models/Wan2.2-TI2V-5B");
  EXPECT_EQ(o.paths[1], "/data/out");
}

TEST(Monitor, StatvfsSpaceWalksUpToAnExistingParent) {
  FakeTree t;
  PathSpace s = statvfs_space(t.root() + "/not/yet/created/out.mp4");
  ASSERT_TRUE(s.free_bytes.known()) << s.free_bytes.why;
  EXPECT_GT(*s.total_bytes.value, 0u);
  EXPECT_EQ(s.path, t.root() + "/not/yet/created/out.mp4");
}

}  // namespace
}  // namespace wan22::perf
