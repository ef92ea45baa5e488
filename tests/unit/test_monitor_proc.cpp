// Parsers of /proc/stat and /proc/diskstats, rates between readings, CPU sensor choice, NVML
// throttle reason names.
#include <gtest/gtest.h>

#include <string>

#include "perf/monitor_sample.h"
#include "perf/nvml.h"
#include "perf/proc_stats.h"
#include "test_monitor_util.h"

namespace wan22::perf {
namespace {

const char* kStat0 =
    "cpu  100 0 100 700 100 0 0 0 0 0\n"
    "cpu0 50 0 50 350 50 0 0 0 0 0\n"
    "cpu1 50 0 50 350 50 0 0 0 0 0\n"
    "intr 12345 0 0\n"
    "ctxt 999\n";
const char* kStat1 =
    "cpu  200 0 100 800 100 0 0 0 0 0\n"
    "cpu0 140 0 50 360 50 0 0 0 0 0\n"
    "cpu1 60 0 50 440 50 0 0 0 0 0\n";

TEST(MonitorProc, ProcStatNormal) {
  auto a = parse_proc_stat(kStat0);
  ASSERT_TRUE(a.known()) << a.why;
  EXPECT_EQ(a.value->all.total, 1000u);
  EXPECT_EQ(a.value->all.busy, 200u);
  ASSERT_EQ(a.value->cores.size(), 2u);
  EXPECT_EQ(a.value->cores.at(1).total, 500u);
  auto b = parse_proc_stat(kStat1);
  ASSERT_TRUE(b.known());
  EXPECT_DOUBLE_EQ(*cpu_busy_fraction(a.value->all, b.value->all).value, 0.5);
  EXPECT_DOUBLE_EQ(*cpu_busy_fraction(a.value->cores.at(0), b.value->cores.at(0)).value, 0.9);
  EXPECT_DOUBLE_EQ(*cpu_busy_fraction(a.value->cores.at(1), b.value->cores.at(1)).value, 0.1);
}

TEST(MonitorProc, ProcStatOldKernelFourFields) {
  auto a = parse_proc_stat("cpu 10 0 10 80\ncpu0 10 0 10 80\n");
  ASSERT_TRUE(a.known()) << a.why;
  EXPECT_EQ(a.value->all.total, 100u);
  EXPECT_EQ(a.value->all.busy, 20u);
}

TEST(MonitorProc, ProcStatGarbage) {
  for (const char* bad :
       {"", "intr 1 2 3\n", "cpu a b c d e\n", "cpu 1 2\n", "cpuX 1 2 3 4 5\n", "\x01\x02\xff",
        "cpu 18446744073709551615 18446744073709551615 1 1 1\n", "cpu -1 2 3 4 5\n"}) {
    auto r = parse_proc_stat(bad);
    EXPECT_FALSE(r.known()) << "accepted: " << bad;
    EXPECT_FALSE(r.why.empty());
  }
  // Good lines survive next to bad ones; without the "cpu" line the cores are summed.
  auto mixed = parse_proc_stat("cpu0 1 0 1 8 0\ncpu1 x y z w\ncpu2 2 0 2 16 0\n");
  ASSERT_TRUE(mixed.known());
  EXPECT_EQ(mixed.value->cores.size(), 2u);
  EXPECT_EQ(mixed.value->all.total, 30u);
  EXPECT_EQ(mixed.value->all.busy, 6u);
}

TEST(MonitorProc, BusyFractionEdgeCases) {
  EXPECT_FALSE(cpu_busy_fraction({10, 100}, {10, 100}).known());  // no time passed
  EXPECT_FALSE(cpu_busy_fraction({10, 100}, {5, 200}).known());   // busy went back
  EXPECT_FALSE(cpu_busy_fraction({10, 100}, {20, 50}).known());   // total went back
  EXPECT_DOUBLE_EQ(*cpu_busy_fraction({0, 0}, {100, 100}).value, 1.0);
}

const char* kDisk0 =
    "   8       0 sda 1000 0 2000 100 500 0 4000 200 0 300 300 0 0 0 0\n"
    "   8       1 sda1 900 0 1800 90 400 0 3000 150 0 250 250\n"
    "   7       0 loop0 5 0 10 1 0 0 0 0 0 1 1\n"
    " 259       0 nvme0n1 1 0 8 0 1 0 8 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
const char* kDisk1 =
    "   8       0 sda 1100 0 6096 110 600 0 12192 220 0 800 320 0 0 0 0\n"
    "   8       1 sda1 900 0 1800 90 400 0 3000 150 0 250 250\n"
    " 259       0 nvme0n1 1 0 4 0 1 0 8 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

TEST(MonitorProc, DiskstatsAndRates) {
  auto a = parse_diskstats(kDisk0);
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].device, "sda");
  EXPECT_EQ(a[0].sectors_read, 2000u);
  EXPECT_EQ(a[0].sectors_written, 4000u);
  EXPECT_EQ(a[0].io_ms, 300u);
  // /sys/block lists whole disks; loop devices never count.
  auto whole = whole_disks(a, {"loop0", "nvme0n1", "sda"});
  ASSERT_EQ(whole.size(), 2u);
  EXPECT_EQ(whole[0].device, "sda");
  EXPECT_EQ(whole[1].device, "nvme0n1");
  EXPECT_EQ(whole_disks(a, {}).size(), 3u);  // no /sys/block: every device but loop/ram

  auto rates = disk_rates(whole, whole_disks(parse_diskstats(kDisk1), {"sda", "nvme0n1"}), 2.0);
  ASSERT_EQ(rates.size(), 1u) << "nvme0n1's read counter went back: skipped";
  EXPECT_EQ(rates[0].device, "sda");
  EXPECT_DOUBLE_EQ(rates[0].read_bytes_per_s, 4096.0 * 512 / 2);
  EXPECT_DOUBLE_EQ(rates[0].write_bytes_per_s, 8192.0 * 512 / 2);
  EXPECT_DOUBLE_EQ(rates[0].busy, 0.25);
  EXPECT_TRUE(disk_rates(whole, whole, 0).empty());
}

TEST(MonitorProc, DiskstatsGarbage) {
  EXPECT_TRUE(parse_diskstats("").empty());
  EXPECT_TRUE(parse_diskstats("8 0 sda 1 2 3\n").empty());  // too short
  EXPECT_TRUE(parse_diskstats("x y sda 1 0 2 0 1 0 2 0 0 1 1\n").empty());
  EXPECT_TRUE(parse_diskstats("8 0 sda 1 0 -2 0 1 0 2 0 0 1 1\n").empty());
  EXPECT_TRUE(parse_diskstats(std::string("\0\0\xff\n", 4)).empty());
  EXPECT_EQ(parse_diskstats("garbage\n8 0 sda 1 0 2 0 1 0 2 0 0 1 1\n").size(), 1u);
}

TEST(MonitorProc, CpuSensorChoice) {
  std::vector<Temperature> t = {
      {"hwmon", "nvme", "Composite", Known<double>::of(60)},
      {"hwmon", "coretemp", "Package id 0", Known<double>::of(55)},
      {"hwmon", "coretemp", "Core 1", Known<double>::of(58)},
      {"hwmon", "amdgpu", "edge", Known<double>::of(90)},
      {"thermal", "acpitz", "thermal_zone0", Known<double>::of(99)},
      {"thermal", "x86_pkg_temp", "thermal_zone1", Known<double>::unknown("bad")},
  };
  EXPECT_FALSE(is_cpu_sensor(t[0]));
  EXPECT_TRUE(is_cpu_sensor(t[1]));
  EXPECT_FALSE(is_cpu_sensor(t[3]));
  EXPECT_FALSE(is_cpu_sensor(t[4]));
  EXPECT_TRUE(is_cpu_sensor(t[5]));
  EXPECT_TRUE(is_cpu_sensor({"hwmon", "k10temp", "Tctl", {}}));
  EXPECT_TRUE(is_cpu_sensor({"thermal", "cpu-thermal", "thermal_zone0", {}}));
  auto hot = hottest_cpu(t);
  ASSERT_TRUE(hot.known());
  EXPECT_DOUBLE_EQ(*hot.value, 58);
  auto none = hottest_cpu({t[0], t[4]});
  EXPECT_FALSE(none.known());
  EXPECT_NE(none.why.find("no CPU sensor"), std::string::npos) << none.why;
  EXPECT_FALSE(hottest_cpu({}).known());
  EXPECT_FALSE(hottest_cpu({t[5]}).known());
}

TEST(MonitorProc, ThrottleReasonNames) {
  using namespace nvml_reason;
  EXPECT_TRUE(throttle_reason_names(0).empty());
  EXPECT_EQ(throttle_reason_names(kSwPowerCap | kHwThermalSlowdown),
            (std::vector<std::string>{"sw_power_cap", "hw_thermal_slowdown"}));
  EXPECT_EQ(throttle_reason_names(kGpuIdle | 0x10000),
            (std::vector<std::string>{"gpu_idle", "0x10000"}));
  EXPECT_EQ(kThermal, 0x60u);
}

TEST(MonitorProc, NvmlMissingLibrarySaysWhy) {
  Nvml nvml("libwan22-no-such-nvml.so");
  EXPECT_FALSE(nvml.ok());
  EXPECT_NE(nvml.reason().find("cannot load"), std::string::npos) << nvml.reason();
  NvmlGpu g = nvml.query(0);
  EXPECT_FALSE(g.power_usage_watts.known());
  EXPECT_FALSE(g.throttle_reasons.known());
  EXPECT_FALSE(g.temperature_slowdown_c.known());
  EXPECT_EQ(g.throttle_reasons.why, nvml.reason());
  auto p = make_nvml_provider("libwan22-no-such-nvml.so");
  EXPECT_TRUE(p->sample().empty());
  EXPECT_NE(p->status().find("cannot load"), std::string::npos) << p->status();
}

}  // namespace
}  // namespace wan22::perf
