// NVML loaded at run time (dlopen "libnvidia-ml.so.1"; no NVML header or link dependency).
// Never throws: without the library, a driver or a GPU, ok() is false and reason() says why.
// Reused by the monitor to sample GPUs.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "perf/known.h"

namespace wan22::perf {

struct NvmlGpu {
  unsigned index = 0;
  Known<std::string> name;
  Known<uint64_t> memory_total_bytes, memory_used_bytes, memory_free_bytes;
  Known<std::string> compute_capability;  // "9.0"
  Known<unsigned> pcie_gen, pcie_width;
  Known<double> power_limit_watts;
  Known<double> temperature_c;
  Known<unsigned> utilization_gpu_pct, utilization_memory_pct;
  Known<unsigned> clock_sm_mhz, clock_memory_mhz, clock_graphics_mhz;
  Known<std::string> pci_bus_id;
  Known<unsigned> pci_bus;
  // Sampled by the monitor (perf/monitor.h).
  Known<double> power_usage_watts;
  Known<double> temperature_slowdown_c;  // where the GPU starts to slow itself down
  Known<uint64_t> throttle_reasons;      // nvmlClocksEventReason* bit mask (0 = none)
};

// nvmlClocksEventReason* (formerly nvmlClocksThrottleReason*) bits, as in NVIDIA's nvml.h.
namespace nvml_reason {
constexpr uint64_t kGpuIdle = 0x1;
constexpr uint64_t kApplicationsClocksSetting = 0x2;
constexpr uint64_t kSwPowerCap = 0x4;
constexpr uint64_t kHwSlowdown = 0x8;
constexpr uint64_t kSyncBoost = 0x10;
constexpr uint64_t kSwThermalSlowdown = 0x20;
constexpr uint64_t kHwThermalSlowdown = 0x40;
constexpr uint64_t kHwPowerBrakeSlowdown = 0x80;
constexpr uint64_t kDisplayClockSetting = 0x100;
// Thermal bits: the GPU slows its clocks because it is hot.
constexpr uint64_t kThermal = kSwThermalSlowdown | kHwThermalSlowdown;
}  // namespace nvml_reason
// Names of the set bits ("sw_power_cap", "hw_thermal_slowdown", ...; unknown bits as "0x...").
std::vector<std::string> throttle_reason_names(uint64_t mask);
// The bits that slow the GPU down (every bit except gpu_idle, applications/display clock settings).
constexpr uint64_t kSlowingReasons = nvml_reason::kSwPowerCap | nvml_reason::kHwSlowdown |
                                     nvml_reason::kSyncBoost | nvml_reason::kThermal |
                                     nvml_reason::kHwPowerBrakeSlowdown;

class Nvml {
 public:
  // Loads `library` and calls nvmlInit_v2.
  explicit Nvml(const std::string& library = "libnvidia-ml.so.1");
  ~Nvml();  // nvmlShutdown, dlclose
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  bool ok() const { return ok_; }
  const std::string& reason() const { return reason_; }
  unsigned device_count() const { return count_; }
  Known<std::string> driver_version() const;
  NvmlGpu query(unsigned index) const;  // every field that NVML refuses is unknown with its error

  struct Api;

 private:
  void* lib_ = nullptr;
  std::unique_ptr<Api> api_;
  bool ok_ = false;
  std::string reason_;
  unsigned count_ = 0;
};

}  // namespace wan22::perf
