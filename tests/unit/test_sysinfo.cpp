// wan22 sysinfo collectors on fake /proc + /sys trees (tests/data/sysfs/<case>) and on this machine.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "perf/nvml.h"
#include "perf/sysfs_read.h"
#include "perf/sysinfo.h"

namespace wan22::perf {
namespace {

std::string fake_root(const std::string& name) { return std::string(WAN22_SOURCE_DIR) + "/tests/data/sysfs/" + name; }

SystemInfo collect_fake(const std::string& name, std::vector<std::string> paths = {"/"}) {
  SysinfoOptions o;
  o.root = fake_root(name);
  o.use_hwloc = false;
  o.query_nvml = false;
  o.paths = std::move(paths);
  return collect_sysinfo(o);
}

TEST(SysinfoParse, Cpulist) {
  auto a = parse_cpulist("0-3,8,10-11\n");
  ASSERT_TRUE(a.known());
  EXPECT_EQ(*a.value, (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(format_cpulist(*a.value), "0-3,8,10-11");
  auto empty = parse_cpulist("");
  ASSERT_TRUE(empty.known());
  EXPECT_TRUE(empty.value->empty());
  for (const char* bad : {"3-1,,x", "3-1", "1,,2", "x", "0-", "-1", "0-99999999999", "1,"}) {
    auto r = parse_cpulist(bad);
    EXPECT_FALSE(r.known()) << bad;
    EXPECT_NE(r.why.find("malformed cpulist"), std::string::npos) << r.why;
  }
}

TEST(SysinfoParse, Integers) {
  EXPECT_EQ(parse_i64(" -5000\n"), -5000);
  EXPECT_EQ(parse_u64("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_u64("18446744073709551616"));
  EXPECT_FALSE(parse_i64("abc"));
  EXPECT_FALSE(parse_i64(""));
  EXPECT_FALSE(parse_i64("12abc"));
  EXPECT_EQ(numbered("cpu12", "cpu"), 12);
  EXPECT_FALSE(numbered("cpufreq", "cpu"));
  EXPECT_FALSE(numbered("cpu", "cpu"));
}

TEST(SysinfoFake, NormalCpuMemoryNuma) {
  SystemInfo s = collect_fake("normal");
  EXPECT_EQ(s.cpu.model.value, "Fake CPU 9000 @ 3.00GHz");
  EXPECT_EQ(s.cpu.logical_cores.value, 4);
  EXPECT_EQ(s.cpu.physical_cores.value, 2);
  EXPECT_EQ(s.cpu.sockets.value, 1);
  EXPECT_EQ(s.cpu.topology_source, "sysfs");
  EXPECT_EQ(s.memory.total_bytes.value, 16384000ull * 1024);
  EXPECT_EQ(s.memory.available_bytes.value, 8192000ull * 1024);
  ASSERT_EQ(s.numa.size(), 2u);
  EXPECT_EQ(s.numa[0].node, 0);
  EXPECT_EQ(s.numa[0].cpus.value, (std::vector<int>{0, 1}));
  EXPECT_EQ(s.numa[0].memory_bytes.value, 8192000ull * 1024);
  EXPECT_EQ(s.numa[1].node, 1);
  EXPECT_EQ(s.numa[1].cpus.value, (std::vector<int>{2, 3}));
  EXPECT_TRUE(s.numa_status.empty());
}

TEST(SysinfoFake, NormalTemperatures) {
  SystemInfo s = collect_fake("normal");
  ASSERT_EQ(s.temperatures.size(), 3u);
  EXPECT_EQ(s.temperatures[0].source, "hwmon");
  EXPECT_EQ(s.temperatures[0].chip, "coretemp");
  EXPECT_EQ(s.temperatures[0].sensor, "Package id 0");
  EXPECT_DOUBLE_EQ(*s.temperatures[0].celsius.value, 45.0);
  EXPECT_EQ(s.temperatures[1].sensor, "Core 0");
  EXPECT_DOUBLE_EQ(*s.temperatures[1].celsius.value, 43.5);
  EXPECT_EQ(s.temperatures[2].source, "thermal");
  EXPECT_EQ(s.temperatures[2].chip, "x86_pkg_temp");
  EXPECT_EQ(s.temperatures[2].sensor, "thermal_zone0");
  EXPECT_DOUBLE_EQ(*s.temperatures[2].celsius.value, 46.0);
}

TEST(SysinfoFake, NormalMountsAndDisks) {
  const std::string mi = *read_text(fake_root("normal"), "/proc/self/mountinfo").value;
  auto root = find_mount(mi, "/home/user/models");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->mount_point, "/");
  EXPECT_EQ(root->fstype, "ext4");
  EXPECT_EQ(root->source, "/dev/nvme0n1p2");
  auto data = find_mount(mi, "/data/wan");
  ASSERT_TRUE(data);
  EXPECT_EQ(data->mount_point, "/data");
  EXPECT_EQ(find_mount(mi, "/database")->mount_point, "/");  // not a prefix at a component boundary
  auto spaced = find_mount(mi, "/mnt/my disk/x");
  ASSERT_TRUE(spaced);
  EXPECT_EQ(spaced->mount_point, "/mnt/my disk");
  EXPECT_EQ(spaced->major, 253u);

  const std::string r = fake_root("normal");
  EXPECT_EQ(find_block_device(r, 259, 2).value, "nvme0n1");  // partition -> whole disk
  EXPECT_EQ(find_block_device(r, 8, 1).value, "sda");
  EXPECT_EQ(find_block_device(r, 8, 0).value, "sda");
  EXPECT_EQ(find_block_device(r, 253, 0).value, "dm-0");
  EXPECT_FALSE(find_block_device(r, 0, 40).known());  // tmpfs
  EXPECT_FALSE(find_block_device(r, 9, 9).known());
  EXPECT_EQ(read_rotational(r, "sda").value, true);
  EXPECT_EQ(read_rotational(r, "nvme0n1").value, false);

  SystemInfo s = collect_fake("normal", {"/"});
  ASSERT_EQ(s.disks.size(), 1u);
  const DiskInfo& d = s.disks[0];
  EXPECT_EQ(d.mount_point.value, "/");
  EXPECT_EQ(d.fstype.value, "ext4");
  EXPECT_EQ(d.block_device.value, "nvme0n1");
  EXPECT_EQ(d.rotational.value, false);
  ASSERT_TRUE(d.total_bytes.known());  // statvfs of the real "/"
  EXPECT_GT(*d.total_bytes.value, 0u);
}

TEST(SysinfoFake, MissingEverythingIsUnknownWithReason) {
  SystemInfo s = collect_fake("missing");
  EXPECT_FALSE(s.cpu.model.known());
  EXPECT_NE(s.cpu.model.why.find("/proc/cpuinfo"), std::string::npos) << s.cpu.model.why;
  EXPECT_FALSE(s.cpu.logical_cores.known());
  EXPECT_FALSE(s.cpu.physical_cores.known());
  EXPECT_FALSE(s.memory.total_bytes.known());
  EXPECT_NE(s.memory.total_bytes.why.find("/proc/meminfo"), std::string::npos);
  EXPECT_TRUE(s.numa.empty());
  EXPECT_FALSE(s.numa_status.empty());
  EXPECT_TRUE(s.temperatures.empty());
  EXPECT_FALSE(s.temperatures_status.empty());
  ASSERT_EQ(s.disks.size(), 1u);
  EXPECT_FALSE(s.disks[0].mount_point.known());
  EXPECT_FALSE(s.disks[0].rotational.known());
  EXPECT_TRUE(s.disks[0].free_bytes.known());  // statvfs still works on the real path
  auto j = to_json(s);
  EXPECT_TRUE(j["cpu"]["logical_cores"].is_null());
  EXPECT_TRUE(j["cpu"]["unknown"]["logical_cores"].is_string());
  EXPECT_FALSE(to_text(s).empty());
}

TEST(SysinfoFake, GarbageNeverCrashes) {
  SystemInfo s = collect_fake("garbage");
  EXPECT_FALSE(s.cpu.model.known());
  EXPECT_FALSE(s.cpu.logical_cores.known());
  EXPECT_NE(s.cpu.logical_cores.why.find("malformed cpulist"), std::string::npos) << s.cpu.logical_cores.why;
  EXPECT_FALSE(s.cpu.physical_cores.known());
  EXPECT_NE(s.cpu.physical_cores.why.find("core_id"), std::string::npos) << s.cpu.physical_cores.why;
  EXPECT_FALSE(s.memory.total_bytes.known());
  EXPECT_FALSE(s.memory.available_bytes.known());

  ASSERT_EQ(s.numa.size(), 3u);  // nodeX is not a node
  EXPECT_EQ(s.numa[0].cpus.value, (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_FALSE(s.numa[0].memory_bytes.known());
  EXPECT_NE(s.numa[0].memory_bytes.why.find("overflows"), std::string::npos) << s.numa[0].memory_bytes.why;
  EXPECT_FALSE(s.numa[1].cpus.known());
  EXPECT_EQ(s.numa[1].memory_bytes.value, 4096u);
  ASSERT_TRUE(s.numa[2].cpus.known());  // an empty cpulist is a memory-only node
  EXPECT_TRUE(s.numa[2].cpus.value->empty());
  EXPECT_FALSE(s.numa[2].memory_bytes.known());

  ASSERT_EQ(s.temperatures.size(), 5u);  // temp1..4 of hwmon0 (tempX skipped), thermal_zone0
  EXPECT_EQ(s.temperatures[0].chip, "hwmon0");
  EXPECT_DOUBLE_EQ(*s.temperatures[0].celsius.value, -5.0);
  EXPECT_FALSE(s.temperatures[1].celsius.known());  // -300 C
  EXPECT_NE(s.temperatures[1].celsius.why.find("implausible"), std::string::npos);
  EXPECT_FALSE(s.temperatures[2].celsius.known());  // empty file
  EXPECT_FALSE(s.temperatures[3].celsius.known());  // huge
  EXPECT_EQ(s.temperatures[4].chip, "unknown");
  EXPECT_FALSE(s.temperatures[4].celsius.known());

  ASSERT_EQ(s.disks.size(), 1u);
  EXPECT_EQ(s.disks[0].source.value, "/dev/vda1");
  EXPECT_EQ(s.disks[0].block_device.value, "vda");
  EXPECT_FALSE(s.disks[0].rotational.known());  // "7"
  EXPECT_NO_THROW(to_json(s).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  EXPECT_NO_THROW(to_text(s));
}

TEST(SysinfoNvml, MissingLibraryIsReported) {
  Nvml nvml("libwan22-no-such-nvml.so.1");
  EXPECT_FALSE(nvml.ok());
  EXPECT_EQ(nvml.device_count(), 0u);
  EXPECT_NE(nvml.reason().find("libwan22-no-such-nvml.so.1"), std::string::npos) << nvml.reason();
  EXPECT_FALSE(nvml.driver_version().known());
  NvmlGpu g = nvml.query(0);
  EXPECT_FALSE(g.name.known());
  EXPECT_EQ(g.name.why, nvml.reason());
  SystemInfo s;
  collect_nvml_gpus(nvml, s);
  attach_cuda_gpus(s, {}, "no CUDA here");
  EXPECT_TRUE(s.gpus.empty());
  EXPECT_NE(s.gpu_status.find("no CUDA here"), std::string::npos) << s.gpu_status;
  EXPECT_NE(s.gpu_status.find("libwan22-no-such-nvml"), std::string::npos) << s.gpu_status;
}

TEST(SysinfoNvml, CudaOnlyDevicesAreListed) {
  SystemInfo s;
  s.gpu_status = "NVML not available";
  attach_cuda_gpus(s, {{0, "Fake GPU", 9, 0, 80ull << 30, 132, 0x1b}}, "ok");
  ASSERT_EQ(s.gpus.size(), 1u);
  auto j = to_json(s);
  EXPECT_EQ(j["gpus"][0]["name"], "Fake GPU");
  EXPECT_EQ(j["gpus"][0]["compute_capability"], "9.0");
  EXPECT_EQ(j["gpus"][0]["memory_total_bytes"], 80ull << 30);
  EXPECT_EQ(j["gpu_status"].get<std::string>().rfind("ok", 0), 0u);
}

TEST(SysinfoLive, ThisMachine) {
  SysinfoOptions o;
  o.query_nvml = true;
  SystemInfo s = collect_sysinfo(o);
  ASSERT_TRUE(s.cpu.logical_cores.known()) << s.cpu.logical_cores.why;
  EXPECT_GE(*s.cpu.logical_cores.value, 1);
  if (s.cpu.physical_cores.known()) {
    EXPECT_GE(*s.cpu.physical_cores.value, 1);
    EXPECT_LE(*s.cpu.physical_cores.value, *s.cpu.logical_cores.value);
  }
  ASSERT_TRUE(s.memory.total_bytes.known()) << s.memory.total_bytes.why;
  EXPECT_GT(*s.memory.total_bytes.value, 0u);
  EXPECT_EQ(s.disks.size(), 2u);
  EXPECT_FALSE(s.gpu_status.empty());
  // hwloc and the sysfs fallback agree on this machine where both can see the topology.
  CpuInfo via_sysfs = collect_cpu("/", false);
  if (s.cpu.topology_source == "hwloc" && via_sysfs.physical_cores.known()) {
    EXPECT_EQ(*via_sysfs.physical_cores.value, *s.cpu.physical_cores.value);
  }
}

}  // namespace
}  // namespace wan22::perf
