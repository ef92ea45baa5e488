// CPU model/cores/sockets, NUMA nodes and RAM: hwloc on the live system, /proc and /sys otherwise.
#include <hwloc.h>

#include <set>
#include <sstream>
#include <utility>

#include "perf/sysfs_read.h"
#include "perf/sysinfo.h"

namespace wan22::perf {
namespace {

// "key : value" lines of /proc/cpuinfo or /proc/meminfo.
std::vector<std::pair<std::string, std::string>> key_values(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> kv;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    kv.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return kv;
}

// "12345 kB" -> bytes; unknown on garbage or overflow.
Known<uint64_t> kb_value(const std::string& v, const std::string& what) {
  std::string num = trim(v);
  uint64_t mult = 1;
  if (num.size() > 2 && (num.ends_with("kB") || num.ends_with("KB"))) {
    num = trim(num.substr(0, num.size() - 2));
    mult = 1024;
  }
  auto n = parse_u64(num);
  if (!n) return Known<uint64_t>::unknown(what + ": unreadable value '" + trim(v) + "'");
  if (*n > UINT64_MAX / mult) return Known<uint64_t>::unknown(what + ": value '" + trim(v) + "' overflows");
  return Known<uint64_t>::of(*n * mult);
}

// hwloc topology of this machine (all CPUs, also those outside our cpuset, like /proc/cpuinfo).
struct Topology {
  hwloc_topology_t topo = nullptr;
  std::string error;
  Topology() {
    if (hwloc_topology_init(&topo) != 0) {
      topo = nullptr;
      error = "hwloc_topology_init failed";
      return;
    }
    hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    if (hwloc_topology_load(topo) != 0) {
      hwloc_topology_destroy(topo);
      topo = nullptr;
      error = "hwloc_topology_load failed";
    }
  }
  ~Topology() {
    if (topo) hwloc_topology_destroy(topo);
  }
  int count(hwloc_obj_type_t t) const { return hwloc_get_nbobjs_by_type(topo, t); }
};

std::vector<int> cpus_of(hwloc_const_bitmap_t set) {
  std::vector<int> cpus;
  if (!set) return cpus;
  for (int i = hwloc_bitmap_first(set); i >= 0; i = hwloc_bitmap_next(set, i)) cpus.push_back(i);
  return cpus;
}

// Physical cores and sockets from /sys/devices/system/cpu/cpuN/topology.
void sysfs_topology(const std::string& root, CpuInfo& cpu) {
  const std::string base = "/sys/devices/system/cpu";
  std::vector<int> ids;
  if (auto online = read_text(root, base + "/online"); online.known()) {
    if (auto l = parse_cpulist(*online.value); l.known()) ids = *l.value;
  }
  if (ids.empty())
    for (const auto& n : list_dir(root, base))
      if (auto id = numbered(n, "cpu")) ids.push_back(*id);
  if (ids.empty()) {
    cpu.physical_cores = cpu.sockets = Known<int64_t>::unknown("no CPUs listed under " + base);
    return;
  }
  std::set<std::pair<int64_t, int64_t>> cores;
  std::set<int64_t> packages;
  for (int id : ids) {
    const std::string dir = base + "/cpu" + std::to_string(id) + "/topology/";
    auto pkg_text = read_text(root, dir + "physical_package_id");
    auto core_text = read_text(root, dir + "core_id");
    if (!pkg_text.known() || !core_text.known()) {
      cpu.physical_cores = cpu.sockets =
          Known<int64_t>::unknown(pkg_text.known() ? core_text.why : pkg_text.why);
      return;
    }
    auto pkg = parse_i64(*pkg_text.value), core = parse_i64(*core_text.value);
    if (!pkg || !core) {
      cpu.physical_cores = cpu.sockets = Known<int64_t>::unknown(
          "unreadable " + dir + (pkg ? "core_id" : "physical_package_id"));
      return;
    }
    cores.insert({*pkg, *core});
    packages.insert(*pkg);
  }
  cpu.physical_cores = Known<int64_t>::of(static_cast<int64_t>(cores.size()));
  cpu.sockets = Known<int64_t>::of(static_cast<int64_t>(packages.size()));
}

}  // namespace

CpuInfo collect_cpu(const std::string& root, bool use_hwloc) {
  CpuInfo cpu;
  auto text = read_text(root, "/proc/cpuinfo");
  int64_t processors = 0;
  cpu.model = Known<std::string>::unknown(text.known() ? "no 'model name' in /proc/cpuinfo" : text.why);
  if (text.known()) {
    bool have_model = false;
    for (const auto& [k, v] : key_values(*text.value)) {
      if (k == "processor") ++processors;
      if (!have_model && (k == "model name" || k == "Processor" || k == "cpu model") && !v.empty()) {
        cpu.model = Known<std::string>::of(v);
        have_model = true;
      }
    }
  }
  if (processors > 0) {
    cpu.logical_cores = Known<int64_t>::of(processors);
  } else if (auto online = read_text(root, "/sys/devices/system/cpu/online"); online.known()) {
    auto l = parse_cpulist(*online.value);
    cpu.logical_cores = l.known() && !l.value->empty()
                            ? Known<int64_t>::of(static_cast<int64_t>(l.value->size()))
                            : Known<int64_t>::unknown("no processors in /proc/cpuinfo; /sys/devices/system/cpu/online: " +
                                                      (l.known() ? std::string("empty") : l.why));
  } else {
    cpu.logical_cores = Known<int64_t>::unknown("no processors in /proc/cpuinfo and " + online.why);
  }

  const bool live = root.empty() || root == "/";
  if (live && use_hwloc) {
    Topology t;
    if (t.topo && t.count(HWLOC_OBJ_CORE) > 0) {
      cpu.physical_cores = Known<int64_t>::of(t.count(HWLOC_OBJ_CORE));
      const int pk = t.count(HWLOC_OBJ_PACKAGE);
      cpu.sockets = pk > 0 ? Known<int64_t>::of(pk) : Known<int64_t>::unknown("hwloc found no package");
      cpu.topology_source = "hwloc";
      return cpu;
    }
  }
  cpu.topology_source = "sysfs";
  sysfs_topology(root, cpu);
  return cpu;
}

std::vector<NumaNode> collect_numa(const std::string& root, bool use_hwloc, std::string* status) {
  std::vector<NumaNode> nodes;
  const bool live = root.empty() || root == "/";
  if (live && use_hwloc) {
    Topology t;
    if (t.topo) {
      const int n = t.count(HWLOC_OBJ_NUMANODE);
      for (int i = 0; i < n; ++i) {
        hwloc_obj_t o = hwloc_get_obj_by_type(t.topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
        if (!o) continue;
        NumaNode node;
        node.node = static_cast<int>(o->os_index);
        node.cpus = Known<std::vector<int>>::of(cpus_of(o->cpuset));
        node.memory_bytes = o->attr && o->attr->numanode.local_memory > 0
                                ? Known<uint64_t>::of(o->attr->numanode.local_memory)
                                : Known<uint64_t>::unknown("hwloc reports no memory size");
        nodes.push_back(std::move(node));
      }
      if (!nodes.empty()) return nodes;
    }
  }
  const std::string base = "/sys/devices/system/node";
  for (const auto& name : list_dir(root, base)) {
    auto id = numbered(name, "node");
    if (!id) continue;
    NumaNode node;
    node.node = *id;
    const std::string dir = base + "/" + name;
    auto cl = read_text(root, dir + "/cpulist");
    node.cpus = cl.known() ? parse_cpulist(*cl.value) : Known<std::vector<int>>::unknown(cl.why);
    node.memory_bytes = Known<uint64_t>::unknown("no MemTotal in " + dir + "/meminfo");
    if (auto mi = read_text(root, dir + "/meminfo"); mi.known()) {
      for (const auto& [k, v] : key_values(*mi.value))
        if (k.ends_with("MemTotal")) {
          node.memory_bytes = kb_value(v, dir + "/meminfo MemTotal");
          break;
        }
    } else {
      node.memory_bytes = Known<uint64_t>::unknown(mi.why);
    }
    nodes.push_back(std::move(node));
  }
  if (nodes.empty() && status) *status = "no NUMA information (hwloc found none and no " + base + "/node*)";
  return nodes;
}

MemoryInfo collect_memory(const std::string& root) {
  MemoryInfo m;
  auto text = read_text(root, "/proc/meminfo");
  m.total_bytes = Known<uint64_t>::unknown(text.known() ? "no MemTotal in /proc/meminfo" : text.why);
  m.available_bytes = Known<uint64_t>::unknown(text.known() ? "no MemAvailable in /proc/meminfo" : text.why);
  if (!text.known()) return m;
  for (const auto& [k, v] : key_values(*text.value)) {
    if (k == "MemTotal") m.total_bytes = kb_value(v, "/proc/meminfo MemTotal");
    if (k == "MemAvailable") m.available_bytes = kb_value(v, "/proc/meminfo MemAvailable");
  }
  return m;
}

}  // namespace wan22::perf
