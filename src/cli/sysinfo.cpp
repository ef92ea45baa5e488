// wan22 sysinfo [--json] [--path P]... [--root DIR]: CPU, NUMA, RAM, temperatures, GPUs and disks.
#include <cstdio>
#include <string>

#include "cli/command.h"
#include "perf/sysinfo.h"
#ifdef WAN22_HAVE_CUDA
#include "backends/cuda/device.h"
#endif

namespace wan22::cli {
namespace {

// CUDA device properties when the CUDA backend is built into this executable.
void add_cuda(perf::SystemInfo& info) {
#ifdef WAN22_HAVE_CUDA
  std::vector<perf::CudaGpu> gpus;
  const int n = cuda::device_count();
  if (n > 0) {
    for (const auto& d : cuda::devices())
      gpus.push_back({d.index, d.name, d.cc_major, d.cc_minor, static_cast<uint64_t>(d.total_memory),
                      d.multiprocessors, d.pci_bus});
  }
  perf::attach_cuda_gpus(info, gpus, n > 0 ? "ok" : cuda::unavailable_reason());
#else
  perf::attach_cuda_gpus(info, {}, "this wan22 was built without the CUDA backend");
#endif
}

int run_sysinfo(int argc, char** argv) {
  perf::SysinfoOptions opt;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: wan22 sysinfo [--json] [--path P]... [--root DIR] [--no-gpu]\n\n"
          "Reports the CPU (model, logical/physical cores, sockets), NUMA nodes with their CPUs and\n"
          "memory, RAM, temperatures (hwmon, thermal zones), GPUs (CUDA properties and NVML: name,\n"
          "memory, compute capability, driver, PCIe link, power limit, temperature) and the disk\n"
          "behind each path (filesystem, free space, rotational). Values it cannot read are shown\n"
          "as unknown with the reason.\n\n"
          "  --json      machine-readable output (keys cpu, numa, memory, temperatures, gpus,\n"
          "              gpu_status, driver, disks; null values are explained under \"unknown\")\n"
          "  --path P    a path whose disk to report (repeatable; default: . and the temp dir)\n"
          "  --root DIR  read /proc and /sys below DIR (for tests on fake trees; disables hwloc)\n"
          "  --no-gpu    do not query NVML or CUDA\n");
      return 0;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--path" || a == "--root") {
      if (i + 1 >= argc) return fail("sysinfo: " + a + " needs a value");
      (a == "--path" ? opt.paths.emplace_back() : opt.root) = argv[++i];
    } else if (a == "--no-gpu") {
      opt.query_nvml = false;
    } else {
      return fail("sysinfo: unknown option '" + a + "' (see wan22 sysinfo --help)");
    }
  }
  perf::SystemInfo info = perf::collect_sysinfo(opt);
  if (opt.query_nvml) add_cuda(info);
  if (json) {
    std::printf("%s\n", perf::to_json(info).dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("%s", perf::to_text(info).c_str());
  }
  return 0;
}

const CommandRegistrar kReg({"sysinfo", "report CPU, NUMA, memory, GPUs, temperatures and disks", run_sysinfo});

}  // namespace
}  // namespace wan22::cli
