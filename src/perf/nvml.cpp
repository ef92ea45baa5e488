#include "perf/nvml.h"

#include <dlfcn.h>

#include <cstdio>

namespace wan22::perf {
namespace {

// The few NVML declarations used (signatures as in NVIDIA's public nvml.h).
using nvmlReturn_t = int;  // enum; NVML_SUCCESS = 0
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlMemory_t {
  unsigned long long total, free, used;
};
struct nvmlUtilization_t {
  unsigned int gpu, memory;
};
struct nvmlPciInfo_t {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
};
constexpr int kNvmlTemperatureGpu = 0;                                      // NVML_TEMPERATURE_GPU
constexpr int kClockGraphics = 0, kClockSm = 1, kClockMem = 2;              // nvmlClockType_t
constexpr int kTemperatureThresholdSlowdown = 1;  // NVML_TEMPERATURE_THRESHOLD_SLOWDOWN

}  // namespace

struct Nvml::Api {
  nvmlReturn_t (*Init)();
  nvmlReturn_t (*Shutdown)();
  const char* (*ErrorString)(nvmlReturn_t);
  nvmlReturn_t (*GetCount)(unsigned int*);
  nvmlReturn_t (*GetHandleByIndex)(unsigned int, nvmlDevice_t*);
  nvmlReturn_t (*GetName)(nvmlDevice_t, char*, unsigned int);
  nvmlReturn_t (*GetMemoryInfo)(nvmlDevice_t, nvmlMemory_t*);
  nvmlReturn_t (*SystemGetDriverVersion)(char*, unsigned int);
  nvmlReturn_t (*GetTemperature)(nvmlDevice_t, int, unsigned int*);
  nvmlReturn_t (*GetPowerManagementLimit)(nvmlDevice_t, unsigned int*);
  nvmlReturn_t (*GetCurrPcieLinkGeneration)(nvmlDevice_t, unsigned int*);
  nvmlReturn_t (*GetCurrPcieLinkWidth)(nvmlDevice_t, unsigned int*);
  nvmlReturn_t (*GetCudaComputeCapability)(nvmlDevice_t, int*, int*);
  nvmlReturn_t (*GetUtilizationRates)(nvmlDevice_t, nvmlUtilization_t*);
  nvmlReturn_t (*GetClockInfo)(nvmlDevice_t, int, unsigned int*);
  nvmlReturn_t (*GetPciInfo)(nvmlDevice_t, nvmlPciInfo_t*);  // optional (v3)
  // Optional: the monitor's fields (absent ones are reported as unknown).
  nvmlReturn_t (*GetPowerUsage)(nvmlDevice_t, unsigned int*);
  nvmlReturn_t (*GetTemperatureThreshold)(nvmlDevice_t, int, unsigned int*);
  nvmlReturn_t (*GetClocksEventReasons)(nvmlDevice_t, unsigned long long*);
  const char* reasons_name = "nvmlDeviceGetCurrentClocksEventReasons";

  std::string err(const char* what, nvmlReturn_t rc) const {
    std::string msg = ErrorString ? ErrorString(rc) : "";
    return std::string(what) + " failed: " + (msg.empty() ? "NVML error " + std::to_string(rc) : msg);
  }
};

Nvml::Nvml(const std::string& library) {
  lib_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib_) {
    const char* e = dlerror();
    reason_ = "NVML not available: cannot load " + library + (e ? std::string(" (") + e + ")" : "");
    return;
  }
  api_ = std::make_unique<Api>();
  std::string missing;
  auto sym = [&](auto& fn, const char* name, bool required = true) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib_, name));
    if (!fn && required) missing += (missing.empty() ? "" : ", ") + std::string(name);
  };
  sym(api_->Init, "nvmlInit_v2");
  sym(api_->Shutdown, "nvmlShutdown");
  sym(api_->ErrorString, "nvmlErrorString", false);
  sym(api_->GetCount, "nvmlDeviceGetCount_v2");
  sym(api_->GetHandleByIndex, "nvmlDeviceGetHandleByIndex_v2");
  sym(api_->GetName, "nvmlDeviceGetName");
  sym(api_->GetMemoryInfo, "nvmlDeviceGetMemoryInfo");
  sym(api_->SystemGetDriverVersion, "nvmlSystemGetDriverVersion");
  sym(api_->GetTemperature, "nvmlDeviceGetTemperature");
  sym(api_->GetPowerManagementLimit, "nvmlDeviceGetPowerManagementLimit");
  sym(api_->GetCurrPcieLinkGeneration, "nvmlDeviceGetCurrPcieLinkGeneration");
  sym(api_->GetCurrPcieLinkWidth, "nvmlDeviceGetCurrPcieLinkWidth");
  sym(api_->GetCudaComputeCapability, "nvmlDeviceGetCudaComputeCapability");
  sym(api_->GetUtilizationRates, "nvmlDeviceGetUtilizationRates");
  sym(api_->GetClockInfo, "nvmlDeviceGetClockInfo");
  sym(api_->GetPciInfo, "nvmlDeviceGetPciInfo_v3", false);
  sym(api_->GetPowerUsage, "nvmlDeviceGetPowerUsage", false);
  sym(api_->GetTemperatureThreshold, "nvmlDeviceGetTemperatureThreshold", false);
  sym(api_->GetClocksEventReasons, "nvmlDeviceGetCurrentClocksEventReasons", false);
  if (!api_->GetClocksEventReasons) {  // drivers before 535 only have the older name
    sym(api_->GetClocksEventReasons, "nvmlDeviceGetCurrentClocksThrottleReasons", false);
    api_->reasons_name = "nvmlDeviceGetCurrentClocksThrottleReasons";
  }
  if (!missing.empty()) {
    reason_ = "NVML in " + library + " lacks " + missing;
    api_.reset();
    return;
  }
  if (nvmlReturn_t rc = api_->Init(); rc != 0) {
    reason_ = "NVML not usable: " + api_->err("nvmlInit_v2", rc);
    api_.reset();
    return;
  }
  unsigned int n = 0;
  if (nvmlReturn_t rc = api_->GetCount(&n); rc != 0) {
    reason_ = api_->err("nvmlDeviceGetCount_v2", rc);
    api_->Shutdown();
    api_.reset();
    return;
  }
  ok_ = true;
  count_ = n;
  if (n == 0) reason_ = "NVML reports no GPU";
}

Nvml::~Nvml() {
  if (api_ && ok_) api_->Shutdown();
  if (lib_) dlclose(lib_);
}

Known<std::string> Nvml::driver_version() const {
  if (!ok_) return Known<std::string>::unknown(reason_);
  char buf[96] = {};
  if (nvmlReturn_t rc = api_->SystemGetDriverVersion(buf, sizeof buf); rc != 0)
    return Known<std::string>::unknown(api_->err("nvmlSystemGetDriverVersion", rc));
  return Known<std::string>::of(buf);
}

NvmlGpu Nvml::query(unsigned index) const {
  NvmlGpu g;
  g.index = index;
  auto all_unknown = [&g](const std::string& why) {
    g.name = Known<std::string>::unknown(why);
    g.memory_total_bytes = g.memory_used_bytes = g.memory_free_bytes = Known<uint64_t>::unknown(why);
    g.compute_capability = g.pci_bus_id = Known<std::string>::unknown(why);
    g.pcie_gen = g.pcie_width = g.utilization_gpu_pct = g.utilization_memory_pct = g.clock_sm_mhz =
        g.clock_memory_mhz = g.clock_graphics_mhz = g.pci_bus = Known<unsigned>::unknown(why);
    g.power_limit_watts = g.temperature_c = g.power_usage_watts = g.temperature_slowdown_c =
        Known<double>::unknown(why);
    g.throttle_reasons = Known<uint64_t>::unknown(why);
  };
  if (!ok_ || index >= count_) {
    all_unknown(ok_ ? "no GPU " + std::to_string(index) : reason_);
    return g;
  }
  nvmlDevice_t dev = nullptr;
  if (nvmlReturn_t rc = api_->GetHandleByIndex(index, &dev); rc != 0) {
    all_unknown(api_->err("nvmlDeviceGetHandleByIndex_v2", rc));
    return g;
  }
  const Api& a = *api_;
  {
    char buf[256] = {};
    nvmlReturn_t rc = a.GetName(dev, buf, sizeof buf);
    g.name = rc ? Known<std::string>::unknown(a.err("nvmlDeviceGetName", rc)) : Known<std::string>::of(buf);
  }
  {
    nvmlMemory_t m{};
    if (nvmlReturn_t rc = a.GetMemoryInfo(dev, &m); rc != 0) {
      g.memory_total_bytes = g.memory_used_bytes = g.memory_free_bytes =
          Known<uint64_t>::unknown(a.err("nvmlDeviceGetMemoryInfo", rc));
    } else {
      g.memory_total_bytes = Known<uint64_t>::of(m.total);
      g.memory_used_bytes = Known<uint64_t>::of(m.used);
      g.memory_free_bytes = Known<uint64_t>::of(m.free);
    }
  }
  {
    int major = 0, minor = 0;
    nvmlReturn_t rc = a.GetCudaComputeCapability(dev, &major, &minor);
    g.compute_capability = rc ? Known<std::string>::unknown(a.err("nvmlDeviceGetCudaComputeCapability", rc))
                              : Known<std::string>::of(std::to_string(major) + "." + std::to_string(minor));
  }
  auto get_uint = [&](const char* what, auto fn) {
    unsigned int v = 0;
    nvmlReturn_t rc = fn(&v);
    return rc ? Known<unsigned>::unknown(a.err(what, rc)) : Known<unsigned>::of(v);
  };
  g.pcie_gen = get_uint("nvmlDeviceGetCurrPcieLinkGeneration",
                        [&](unsigned* v) { return a.GetCurrPcieLinkGeneration(dev, v); });
  g.pcie_width =
      get_uint("nvmlDeviceGetCurrPcieLinkWidth", [&](unsigned* v) { return a.GetCurrPcieLinkWidth(dev, v); });
  g.clock_sm_mhz = get_uint("nvmlDeviceGetClockInfo(SM)", [&](unsigned* v) { return a.GetClockInfo(dev, kClockSm, v); });
  g.clock_memory_mhz =
      get_uint("nvmlDeviceGetClockInfo(MEM)", [&](unsigned* v) { return a.GetClockInfo(dev, kClockMem, v); });
  g.clock_graphics_mhz =
      get_uint("nvmlDeviceGetClockInfo(GRAPHICS)", [&](unsigned* v) { return a.GetClockInfo(dev, kClockGraphics, v); });
  Known<unsigned> power_mw = get_uint("nvmlDeviceGetPowerManagementLimit",
                                      [&](unsigned* v) { return a.GetPowerManagementLimit(dev, v); });
  g.power_limit_watts = power_mw.known() ? Known<double>::of(*power_mw.value / 1000.0)
                                         : Known<double>::unknown(power_mw.why);
  Known<unsigned> temp = get_uint("nvmlDeviceGetTemperature",
                                  [&](unsigned* v) { return a.GetTemperature(dev, kNvmlTemperatureGpu, v); });
  g.temperature_c = temp.known() ? Known<double>::of(*temp.value) : Known<double>::unknown(temp.why);
  {
    nvmlUtilization_t u{};
    if (nvmlReturn_t rc = a.GetUtilizationRates(dev, &u); rc != 0) {
      g.utilization_gpu_pct = g.utilization_memory_pct = Known<unsigned>::unknown(a.err("nvmlDeviceGetUtilizationRates", rc));
    } else {
      g.utilization_gpu_pct = Known<unsigned>::of(u.gpu);
      g.utilization_memory_pct = Known<unsigned>::of(u.memory);
    }
  }
  auto optional_uint = [&](const char* what, bool present, auto fn) {
    return present ? get_uint(what, fn) : Known<unsigned>::unknown(std::string(what) + " missing in this NVML");
  };
  Known<unsigned> usage_mw = optional_uint("nvmlDeviceGetPowerUsage", a.GetPowerUsage != nullptr,
                                           [&](unsigned* v) { return a.GetPowerUsage(dev, v); });
  g.power_usage_watts = usage_mw.known() ? Known<double>::of(*usage_mw.value / 1000.0)
                                         : Known<double>::unknown(usage_mw.why);
  Known<unsigned> slowdown = optional_uint(
      "nvmlDeviceGetTemperatureThreshold(SLOWDOWN)", a.GetTemperatureThreshold != nullptr,
      [&](unsigned* v) { return a.GetTemperatureThreshold(dev, kTemperatureThresholdSlowdown, v); });
  g.temperature_slowdown_c = slowdown.known() ? Known<double>::of(*slowdown.value)
                                              : Known<double>::unknown(slowdown.why);
  if (!a.GetClocksEventReasons) {
    g.throttle_reasons = Known<uint64_t>::unknown("nvmlDeviceGetCurrentClocksEventReasons missing in this NVML");
  } else {
    unsigned long long mask = 0;
    nvmlReturn_t rc = a.GetClocksEventReasons(dev, &mask);
    g.throttle_reasons = rc ? Known<uint64_t>::unknown(a.err(a.reasons_name, rc)) : Known<uint64_t>::of(mask);
  }
  if (!a.GetPciInfo) {
    g.pci_bus_id = Known<std::string>::unknown("nvmlDeviceGetPciInfo_v3 missing in this NVML");
    g.pci_bus = Known<unsigned>::unknown(g.pci_bus_id.why);
  } else {
    nvmlPciInfo_t p{};
    if (nvmlReturn_t rc = a.GetPciInfo(dev, &p); rc != 0) {
      g.pci_bus_id = Known<std::string>::unknown(a.err("nvmlDeviceGetPciInfo_v3", rc));
      g.pci_bus = Known<unsigned>::unknown(g.pci_bus_id.why);
    } else {
      p.busId[sizeof p.busId - 1] = 0;
      g.pci_bus_id = Known<std::string>::of(p.busId);
      g.pci_bus = Known<unsigned>::of(p.bus);
    }
  }
  return g;
}

std::vector<std::string> throttle_reason_names(uint64_t mask) {
  static const std::pair<uint64_t, const char*> kNames[] = {
      {nvml_reason::kGpuIdle, "gpu_idle"},
      {nvml_reason::kApplicationsClocksSetting, "applications_clocks_setting"},
      {nvml_reason::kSwPowerCap, "sw_power_cap"},
      {nvml_reason::kHwSlowdown, "hw_slowdown"},
      {nvml_reason::kSyncBoost, "sync_boost"},
      {nvml_reason::kSwThermalSlowdown, "sw_thermal_slowdown"},
      {nvml_reason::kHwThermalSlowdown, "hw_thermal_slowdown"},
      {nvml_reason::kHwPowerBrakeSlowdown, "hw_power_brake_slowdown"},
      {nvml_reason::kDisplayClockSetting, "display_clock_setting"},
  };
  std::vector<std::string> out;
  uint64_t rest = mask;
  for (const auto& [bit, name] : kNames)
    if (mask & bit) {
      out.emplace_back(name);
      rest &= ~bit;
    }
  if (rest) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(rest));
    out.emplace_back(buf);
  }
  return out;
}

}  // namespace wan22::perf
