// What `wan22 sysinfo` reports: CPU, NUMA, RAM, temperatures, GPUs and disks. Every /proc and
// /sys read goes below `root` so tests can run on fake trees; nothing here throws: a value that
// cannot be read is Known::unknown with the reason.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "perf/known.h"
#include "perf/nvml.h"

namespace wan22::perf {

struct CpuInfo {
  Known<std::string> model;
  Known<int64_t> logical_cores;
  Known<int64_t> physical_cores;
  Known<int64_t> sockets;
  std::string topology_source;  // "hwloc" or "sysfs"
};

struct NumaNode {
  int node = 0;
  Known<std::vector<int>> cpus;
  Known<uint64_t> memory_bytes;
};

struct MemoryInfo {
  Known<uint64_t> total_bytes;
  Known<uint64_t> available_bytes;
};

struct Temperature {
  std::string source;  // "hwmon" or "thermal"
  std::string chip;    // hwmon name / thermal zone type
  std::string sensor;  // temp label or zone directory
  Known<double> celsius;
};

struct MountEntry {
  std::string mount_point;
  std::string fstype;
  std::string source;  // e.g. /dev/nvme0n1p2
  unsigned major = 0, minor = 0;
};

struct DiskInfo {
  std::string path;       // as given
  std::string resolved;   // canonical path
  Known<std::string> mount_point, fstype, source;
  Known<std::string> block_device;  // whole disk in /sys/block, e.g. nvme0n1
  Known<bool> rotational;
  Known<uint64_t> free_bytes, total_bytes;
};

struct CudaGpu {  // filled by the CLI when the CUDA backend is built
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  uint64_t total_memory = 0;
  int multiprocessors = 0;
  int pci_bus = 0;
};

struct GpuEntry {
  int index = 0;
  bool has_nvml = false;
  NvmlGpu nvml;
  bool has_cuda = false;
  CudaGpu cuda;
};

struct SystemInfo {
  CpuInfo cpu;
  std::vector<NumaNode> numa;
  std::string numa_status;  // why `numa` is empty
  MemoryInfo memory;
  std::vector<Temperature> temperatures;
  std::string temperatures_status;
  std::vector<GpuEntry> gpus;
  std::string gpu_status;
  Known<std::string> driver_version;
  std::vector<DiskInfo> disks;
};

struct SysinfoOptions {
  std::string root = "/";
  bool use_hwloc = true;  // only meaningful for root "/"; fake trees always use sysfs
  bool query_nvml = true;
  std::vector<std::string> paths;  // disks; empty -> current directory and temp dir
};

CpuInfo collect_cpu(const std::string& root, bool use_hwloc);
std::vector<NumaNode> collect_numa(const std::string& root, bool use_hwloc, std::string* status);
MemoryInfo collect_memory(const std::string& root);
std::vector<Temperature> collect_temperatures(const std::string& root);
// Mount containing `canonical_path` in /proc/self/mountinfo text (longest mount point; later wins).
std::optional<MountEntry> find_mount(const std::string& mountinfo, const std::string& canonical_path);
std::vector<MountEntry> parse_mountinfo(const std::string& mountinfo);
// Whole disk under /sys/block holding device major:minor (a disk or one of its partitions).
Known<std::string> find_block_device(const std::string& root, unsigned major, unsigned minor);
Known<bool> read_rotational(const std::string& root, const std::string& block_device);
DiskInfo collect_disk(const std::string& root, const std::string& path);
// GPUs from NVML; `nvml` may be unavailable (its reason goes into gpu_status).
void collect_nvml_gpus(const Nvml& nvml, SystemInfo& info);
// Merges CUDA devices into info.gpus (by PCI bus when NVML gave one, else appended).
void attach_cuda_gpus(SystemInfo& info, const std::vector<CudaGpu>& cuda, const std::string& cuda_status);

SystemInfo collect_sysinfo(const SysinfoOptions& options);
nlohmann::json to_json(const SystemInfo& info);
std::string to_text(const SystemInfo& info);

}  // namespace wan22::perf
