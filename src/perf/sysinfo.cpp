// collect_sysinfo and its JSON / text renderings.
#include "perf/sysinfo.h"

#include <cstdio>
#include <filesystem>

#include "perf/sysfs_read.h"

namespace wan22::perf {
namespace {
using nlohmann::json;

// obj[key] = value, or null plus obj["unknown"][key] = reason.
template <class T>
void put(json& obj, const char* key, const Known<T>& k) {
  if (k.known()) {
    obj[key] = *k.value;
  } else {
    obj[key] = nullptr;
    obj["unknown"][key] = k.why;
  }
}

template <class T, class F>
std::string show(const Known<T>& k, F fmt) {
  return k.known() ? fmt(*k.value) : "unknown (" + k.why + ")";
}
std::string show_str(const Known<std::string>& k) {
  return show(k, [](const std::string& s) { return s; });
}
template <class T>
std::string show_num(const Known<T>& k) {
  return show(k, [](T v) { return std::to_string(v); });
}
std::string gib(uint64_t b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}
std::string show_bytes(const Known<uint64_t>& k) { return show(k, gib); }
std::string celsius(double c) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f C", c);
  return buf;
}

}  // namespace

void collect_nvml_gpus(const Nvml& nvml, SystemInfo& info) {
  info.driver_version = nvml.driver_version();
  if (!nvml.ok() || nvml.device_count() == 0) {
    info.gpu_status = nvml.reason();
    return;
  }
  for (unsigned i = 0; i < nvml.device_count(); ++i) {
    GpuEntry g;
    g.index = static_cast<int>(i);
    g.has_nvml = true;
    g.nvml = nvml.query(i);
    info.gpus.push_back(std::move(g));
  }
  info.gpu_status = "ok: " + std::to_string(info.gpus.size()) + " GPU(s) via NVML";
}

void attach_cuda_gpus(SystemInfo& info, const std::vector<CudaGpu>& cuda, const std::string& cuda_status) {
  for (const auto& c : cuda) {
    GpuEntry* match = nullptr;
    int matches = 0;
    for (auto& g : info.gpus)
      if (g.has_nvml && !g.has_cuda && g.nvml.pci_bus.known() && *g.nvml.pci_bus.value == static_cast<unsigned>(c.pci_bus)) {
        match = &g;
        ++matches;
      }
    if (matches == 1) {
      match->has_cuda = true;
      match->cuda = c;
      continue;
    }
    GpuEntry g;
    g.index = static_cast<int>(info.gpus.size());
    g.has_cuda = true;
    g.cuda = c;
    info.gpus.push_back(std::move(g));
  }
  if (info.gpus.empty()) {
    info.gpu_status = "no GPU: " + (info.gpu_status.empty() ? "" : info.gpu_status + "; ") + "CUDA: " + cuda_status;
  } else if (!cuda.empty() && info.gpu_status.rfind("ok", 0) != 0) {
    info.gpu_status = "ok: " + std::to_string(cuda.size()) + " GPU(s) via CUDA; " + info.gpu_status;
  }
}

SystemInfo collect_sysinfo(const SysinfoOptions& o) {
  SystemInfo info;
  info.cpu = collect_cpu(o.root, o.use_hwloc);
  info.numa = collect_numa(o.root, o.use_hwloc, &info.numa_status);
  info.memory = collect_memory(o.root);
  info.temperatures = collect_temperatures(o.root);
  if (info.temperatures.empty())
    info.temperatures_status = "no readable sensor under /sys/class/hwmon or /sys/class/thermal";
  if (o.query_nvml) {
    Nvml nvml;
    collect_nvml_gpus(nvml, info);
  } else {
    info.gpu_status = "NVML not queried";
    info.driver_version = Known<std::string>::unknown(info.gpu_status);
  }
  std::vector<std::string> paths = o.paths;
  if (paths.empty()) {
    paths.push_back(".");
    std::error_code ec;
    auto tmp = std::filesystem::temp_directory_path(ec);
    paths.push_back(ec ? "/tmp" : tmp.string());
  }
  for (const auto& p : paths) info.disks.push_back(collect_disk(o.root, p));
  return info;
}

json to_json(const SystemInfo& s) {
  json j;
  json cpu = json::object();
  put(cpu, "model", s.cpu.model);
  put(cpu, "logical_cores", s.cpu.logical_cores);
  put(cpu, "physical_cores", s.cpu.physical_cores);
  put(cpu, "sockets", s.cpu.sockets);
  cpu["topology_source"] = s.cpu.topology_source;
  j["cpu"] = cpu;

  j["numa"] = json::array();
  for (const auto& n : s.numa) {
    json o = {{"node", n.node}};
    put(o, "cpus", n.cpus);
    o["cpulist"] = n.cpus.known() ? json(format_cpulist(*n.cpus.value)) : json(nullptr);
    put(o, "memory_bytes", n.memory_bytes);
    j["numa"].push_back(o);
  }
  if (!s.numa_status.empty()) j["numa_status"] = s.numa_status;

  json mem = json::object();
  put(mem, "total_bytes", s.memory.total_bytes);
  put(mem, "available_bytes", s.memory.available_bytes);
  j["memory"] = mem;

  j["temperatures"] = json::array();
  for (const auto& t : s.temperatures) {
    json o = {{"source", t.source}, {"chip", t.chip}, {"sensor", t.sensor}};
    put(o, "celsius", t.celsius);
    j["temperatures"].push_back(o);
  }
  if (!s.temperatures_status.empty()) j["temperatures_status"] = s.temperatures_status;

  j["gpus"] = json::array();
  for (const auto& g : s.gpus) {
    json o = {{"index", g.index}};
    if (g.has_nvml) {
      const NvmlGpu& n = g.nvml;
      put(o, "name", n.name);
      put(o, "memory_total_bytes", n.memory_total_bytes);
      put(o, "memory_used_bytes", n.memory_used_bytes);
      put(o, "memory_free_bytes", n.memory_free_bytes);
      put(o, "compute_capability", n.compute_capability);
      put(o, "pcie_link_gen", n.pcie_gen);
      put(o, "pcie_link_width", n.pcie_width);
      put(o, "power_limit_watts", n.power_limit_watts);
      put(o, "temperature_c", n.temperature_c);
      put(o, "utilization_gpu_pct", n.utilization_gpu_pct);
      put(o, "utilization_memory_pct", n.utilization_memory_pct);
      put(o, "clock_sm_mhz", n.clock_sm_mhz);
      put(o, "clock_memory_mhz", n.clock_memory_mhz);
      put(o, "clock_graphics_mhz", n.clock_graphics_mhz);
      put(o, "pci_bus_id", n.pci_bus_id);
    }
    if (g.has_cuda) {
      const CudaGpu& c = g.cuda;
      o["cuda"] = {{"index", c.index},
                   {"name", c.name},
                   {"compute_capability", std::to_string(c.cc_major) + "." + std::to_string(c.cc_minor)},
                   {"total_memory_bytes", c.total_memory},
                   {"multiprocessors", c.multiprocessors},
                   {"pci_bus", c.pci_bus}};
      if (!g.has_nvml) {
        o["name"] = c.name;
        o["memory_total_bytes"] = c.total_memory;
        o["compute_capability"] = o["cuda"]["compute_capability"];
      }
    }
    j["gpus"].push_back(o);
  }
  j["gpu_status"] = s.gpu_status;
  j["driver"] = json::object();
  put(j["driver"], "version", s.driver_version);

  j["disks"] = json::array();
  for (const auto& d : s.disks) {
    json o = {{"path", d.path}, {"resolved", d.resolved}};
    put(o, "mount_point", d.mount_point);
    put(o, "fstype", d.fstype);
    put(o, "source", d.source);
    put(o, "block_device", d.block_device);
    put(o, "rotational", d.rotational);
    put(o, "free_bytes", d.free_bytes);
    put(o, "total_bytes", d.total_bytes);
    j["disks"].push_back(o);
  }
  return j;
}

std::string to_text(const SystemInfo& s) {
  std::string out;
  auto line = [&out](const std::string& l) { out += l + "\n"; };
  line("CPU");
  line("  model:          " + show_str(s.cpu.model));
  line("  logical cores:  " + show_num(s.cpu.logical_cores));
  line("  physical cores: " + show_num(s.cpu.physical_cores) + " (" + s.cpu.topology_source + ")");
  line("  sockets:        " + show_num(s.cpu.sockets));
  line("NUMA");
  if (s.numa.empty()) line("  " + s.numa_status);
  for (const auto& n : s.numa)
    line("  node " + std::to_string(n.node) + ": cpus " +
         show(n.cpus, [](const std::vector<int>& c) { return format_cpulist(c); }) + ", memory " +
         show_bytes(n.memory_bytes));
  line("Memory");
  line("  total:     " + show_bytes(s.memory.total_bytes));
  line("  available: " + show_bytes(s.memory.available_bytes));
  line("Temperatures");
  if (s.temperatures.empty()) line("  " + s.temperatures_status);
  for (const auto& t : s.temperatures)
    line("  " + t.source + " " + t.chip + " " + t.sensor + ": " + show(t.celsius, celsius));
  line("GPUs");
  line("  status: " + s.gpu_status);
  if (!s.gpus.empty()) line("  driver: " + show_str(s.driver_version));
  for (const auto& g : s.gpus) {
    if (g.has_nvml) {
      const NvmlGpu& n = g.nvml;
      line("  gpu " + std::to_string(g.index) + ": " + show_str(n.name) + ", compute " + show_str(n.compute_capability));
      line("    memory:      " + show_bytes(n.memory_total_bytes) + " total, " + show_bytes(n.memory_free_bytes) + " free");
      line("    pcie:        gen " + show_num(n.pcie_gen) + " x" + show_num(n.pcie_width) + " (" + show_str(n.pci_bus_id) + ")");
      line("    power limit: " + show(n.power_limit_watts, [](double w) { return std::to_string(static_cast<int>(w)) + " W"; }));
      line("    temperature: " + show(n.temperature_c, celsius));
      line("    utilization: " + show_num(n.utilization_gpu_pct) + "% gpu, " + show_num(n.utilization_memory_pct) + "% memory");
      line("    clocks:      sm " + show_num(n.clock_sm_mhz) + " MHz, memory " + show_num(n.clock_memory_mhz) + " MHz");
    }
    if (g.has_cuda) {
      const CudaGpu& c = g.cuda;
      line(std::string(g.has_nvml ? "    cuda:        " : "  gpu " + std::to_string(g.index) + " (CUDA): ") + c.name + ", compute " +
           std::to_string(c.cc_major) + "." + std::to_string(c.cc_minor) + ", " + gib(c.total_memory) + ", " +
           std::to_string(c.multiprocessors) + " SMs, device " + std::to_string(c.index));
    }
  }
  line("Disks");
  for (const auto& d : s.disks) {
    line("  " + d.path + " (" + d.resolved + ")");
    line("    mount:      " + show_str(d.mount_point) + " type " + show_str(d.fstype) + " from " + show_str(d.source));
    line("    space:      " + show_bytes(d.free_bytes) + " free of " + show_bytes(d.total_bytes));
    line("    device:     " + show_str(d.block_device) + ", " +
         show(d.rotational, [](bool r) { return std::string(r ? "rotational" : "non-rotational"); }));
  }
  return out;
}

}  // namespace wan22::perf
