#include "bench/machine.h"

#include <sys/utsname.h>

#include "perf/nvml.h"
#include "perf/sysinfo.h"

namespace wan22::bench {

Machine collect_machine() {
  Machine m;
  const perf::CpuInfo cpu = perf::collect_cpu("/", true);
  m.cpu = cpu.model.known() ? *cpu.model.value : "unknown CPU";
  m.logical_cores = cpu.logical_cores.known() ? static_cast<int>(*cpu.logical_cores.value) : 0;
  m.physical_cores = cpu.physical_cores.known() ? static_cast<int>(*cpu.physical_cores.value) : 0;
  const perf::MemoryInfo mem = perf::collect_memory("/");
  m.ram_bytes = mem.total_bytes.known() ? *mem.total_bytes.value : 0;
  struct utsname u {};
  if (uname(&u) == 0) m.os = std::string(u.sysname) + " " + u.release;
  perf::Nvml nvml;
  if (nvml.ok() && nvml.device_count() > 0) {
    perf::NvmlGpu g = nvml.query(0);
    if (g.name.known()) m.gpu = *g.name.value;
    if (nvml.device_count() > 1) m.gpu += " (x" + std::to_string(nvml.device_count()) + ")";
    auto d = nvml.driver_version();
    if (d.known()) m.driver = *d.value;
  }
  return m;
}

}  // namespace wan22::bench
