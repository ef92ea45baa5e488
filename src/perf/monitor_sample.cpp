// MonitorSample: CPU sensor classification, JSON (and back), text view.
#include "perf/monitor_sample.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "perf/sysfs_read.h"

namespace wan22::perf {
namespace {
using nlohmann::json;

template <class T>
void put(json& obj, const char* key, const Known<T>& k) {
  if (k.known()) {
    obj[key] = *k.value;
  } else {
    obj[key] = nullptr;
    obj["unknown"][key] = k.why;
  }
}

// The reason recorded for a null value, or a generic one.
std::string why_of(const json& obj, const char* key) {
  if (obj.contains("unknown") && obj["unknown"].is_object() && obj["unknown"].contains(key) &&
      obj["unknown"][key].is_string())
    return obj["unknown"][key].get<std::string>();
  return std::string("no ") + key + " in the sample";
}

template <class T>
Known<T> get(const json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key)) {
    const json& v = obj[key];
    if constexpr (std::is_same_v<T, std::string>) {
      if (v.is_string()) return Known<T>::of(v.get<std::string>());
    } else if constexpr (std::is_floating_point_v<T>) {
      if (v.is_number()) return Known<T>::of(v.get<T>());
    } else {
      if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0))
        return Known<T>::of(v.get<T>());
    }
  }
  return Known<T>::unknown(obj.is_object() ? why_of(obj, key)
                                           : std::string("no ") + key + " in the sample");
}

template <class T>
T get_or(const json& obj, const char* key, T fallback) {
  auto k = get<T>(obj, key);
  return k.known() ? *k.value : fallback;
}

const json& member(const json& obj, const char* key) {
  static const json kNull;
  return obj.is_object() && obj.contains(key) ? obj[key] : kNull;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string gib(uint64_t b) {
  return fmt("%.1f", static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0));
}
std::string pct(double fraction) { return fmt("%.0f%%", fraction * 100.0); }
std::string mbs(double bytes_per_s) { return fmt("%.1f MB/s", bytes_per_s / 1e6); }

template <class T, class F>
std::string show(const Known<T>& k, F f, const std::string& unknown = "?") {
  return k.known() ? f(*k.value) : unknown;
}

}  // namespace

bool is_cpu_sensor(const Temperature& t) {
  const std::string chip = lower(t.chip);
  if (t.source == "hwmon")
    return chip == "coretemp" || chip == "k10temp" || chip == "k8temp" || chip == "zenpower" ||
           chip.find("cpu") != std::string::npos || chip.rfind("soc", 0) == 0;
  if (t.source == "thermal")
    return chip == "x86_pkg_temp" || chip.find("cpu") != std::string::npos ||
           chip.rfind("soc", 0) == 0;
  return false;
}

Known<double> hottest_cpu(const std::vector<Temperature>& temps) {
  Known<double> best = Known<double>::unknown("");
  size_t cpu_sensors = 0;
  for (const auto& t : temps) {
    if (!is_cpu_sensor(t)) continue;
    ++cpu_sensors;
    if (t.celsius.known() && (!best.known() || *t.celsius.value > *best.value)) best = t.celsius;
  }
  if (best.known()) return best;
  if (cpu_sensors > 0) return Known<double>::unknown("no CPU sensor gave a plausible reading");
  return Known<double>::unknown(
      temps.empty() ? "no readable sensor under /sys/class/hwmon or /sys/class/thermal"
                    : "no CPU sensor (coretemp, k10temp, zenpower, x86_pkg_temp, *cpu*) among " +
                          std::to_string(temps.size()) + " sensors");
}

json to_json(const MonitorSample& s) {
  json j;
  j["seq"] = s.seq;
  j["t_s"] = s.t_s;
  j["interval_s"] = s.interval_s;
  j["unix_ms"] = s.unix_ms;
  j["gpu_status"] = s.gpu_status;
  j["gpus"] = json::array();
  for (const auto& g : s.gpus) {
    json o = {{"index", g.index}};
    put(o, "name", g.name);
    put(o, "util_pct", g.utilization_gpu_pct);
    put(o, "mem_util_pct", g.utilization_memory_pct);
    put(o, "vram_used_bytes", g.memory_used_bytes);
    put(o, "vram_total_bytes", g.memory_total_bytes);
    put(o, "temp_c", g.temperature_c);
    put(o, "slowdown_temp_c", g.temperature_slowdown_c);
    put(o, "power_w", g.power_usage_watts);
    put(o, "power_limit_w", g.power_limit_watts);
    put(o, "clock_sm_mhz", g.clock_sm_mhz);
    put(o, "clock_mem_mhz", g.clock_memory_mhz);
    put(o, "clock_graphics_mhz", g.clock_graphics_mhz);
    put(o, "throttle_mask", g.throttle_reasons);
    o["throttle_reasons"] = g.throttle_reasons.known()
                                ? json(throttle_reason_names(*g.throttle_reasons.value))
                                : json(nullptr);
    j["gpus"].push_back(o);
  }

  json cpu = json::object();
  put(cpu, "util", s.cpu.total);
  put(cpu, "temp_c", s.cpu_temp_c);
  json cores = json::object();
  for (const auto& [n, v] : s.cpu.cores)
    cores[std::to_string(n)] = v.known() ? json(*v.value) : json(nullptr);
  cpu["cores"] = cores;
  j["cpu"] = cpu;

  j["temperatures"] = json::array();
  for (const auto& t : s.temperatures) {
    json o = {{"source", t.source}, {"chip", t.chip}, {"sensor", t.sensor}};
    put(o, "celsius", t.celsius);
    j["temperatures"].push_back(o);
  }

  json mem = json::object();
  put(mem, "total_bytes", s.memory.total_bytes);
  put(mem, "available_bytes", s.memory.available_bytes);
  if (s.memory.total_bytes.known() && s.memory.available_bytes.known() &&
      *s.memory.total_bytes.value >= *s.memory.available_bytes.value)
    mem["used_bytes"] = *s.memory.total_bytes.value - *s.memory.available_bytes.value;
  j["memory"] = mem;

  if (s.disks.known()) {
    j["disks"] = json::array();
    for (const auto& d : *s.disks.value)
      j["disks"].push_back({{"device", d.device},
                            {"read_bytes_per_s", d.read_bytes_per_s},
                            {"write_bytes_per_s", d.write_bytes_per_s},
                            {"busy", d.busy}});
  } else {
    j["disks"] = nullptr;
    j["unknown"]["disks"] = s.disks.why;
  }

  j["paths"] = json::array();
  for (const auto& p : s.paths) {
    json o = {{"path", p.path}};
    put(o, "free_bytes", p.free_bytes);
    put(o, "total_bytes", p.total_bytes);
    j["paths"].push_back(o);
  }

  json gen = {{"steps_done", s.generation.steps_done},
              {"frames_done", s.generation.frames_done},
              {"jobs_done", s.generation.jobs_done}};
  put(gen, "steps_per_s", s.generation.steps_per_s);
  put(gen, "frames_per_s", s.generation.frames_per_s);
  j["generation"] = gen;
  j["alerts"] = s.alerts;
  return j;
}

MonitorSample sample_from_json(const json& j) {
  MonitorSample s;
  if (!j.is_object()) return s;
  s.seq = get_or<uint64_t>(j, "seq", 0);
  s.t_s = get_or<double>(j, "t_s", 0);
  s.interval_s = get_or<double>(j, "interval_s", 0);
  if (j.contains("unix_ms") && j["unix_ms"].is_number_integer())
    s.unix_ms = j["unix_ms"].get<int64_t>();
  s.gpu_status = get_or<std::string>(j, "gpu_status", "");
  if (const json& gpus = member(j, "gpus"); gpus.is_array()) {
    for (const auto& o : gpus) {
      NvmlGpu g;
      g.index = get_or<unsigned>(o, "index", 0);
      g.name = get<std::string>(o, "name");
      g.utilization_gpu_pct = get<unsigned>(o, "util_pct");
      g.utilization_memory_pct = get<unsigned>(o, "mem_util_pct");
      g.memory_used_bytes = get<uint64_t>(o, "vram_used_bytes");
      g.memory_total_bytes = get<uint64_t>(o, "vram_total_bytes");
      g.temperature_c = get<double>(o, "temp_c");
      g.temperature_slowdown_c = get<double>(o, "slowdown_temp_c");
      g.power_usage_watts = get<double>(o, "power_w");
      g.power_limit_watts = get<double>(o, "power_limit_w");
      g.clock_sm_mhz = get<unsigned>(o, "clock_sm_mhz");
      g.clock_memory_mhz = get<unsigned>(o, "clock_mem_mhz");
      g.clock_graphics_mhz = get<unsigned>(o, "clock_graphics_mhz");
      g.throttle_reasons = get<uint64_t>(o, "throttle_mask");
      s.gpus.push_back(std::move(g));
    }
  }
  const json& cpu = member(j, "cpu");
  s.cpu.total = get<double>(cpu, "util");
  s.cpu_temp_c = get<double>(cpu, "temp_c");
  if (const json& cores = member(cpu, "cores"); cores.is_object()) {
    for (const auto& [k, v] : cores.items()) {
      auto n = numbered("cpu" + k, "cpu");
      if (!n) continue;
      s.cpu.cores.emplace_back(*n, v.is_number()
                                       ? Known<double>::of(v.get<double>())
                                       : Known<double>::unknown("no value in the sample"));
    }
    std::sort(s.cpu.cores.begin(), s.cpu.cores.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  if (const json& temps = member(j, "temperatures"); temps.is_array()) {
    for (const auto& o : temps) {
      Temperature t;
      t.source = get_or<std::string>(o, "source", "");
      t.chip = get_or<std::string>(o, "chip", "");
      t.sensor = get_or<std::string>(o, "sensor", "");
      t.celsius = get<double>(o, "celsius");
      s.temperatures.push_back(std::move(t));
    }
  }
  const json& mem = member(j, "memory");
  s.memory.total_bytes = get<uint64_t>(mem, "total_bytes");
  s.memory.available_bytes = get<uint64_t>(mem, "available_bytes");
  if (const json& disks = member(j, "disks"); disks.is_array()) {
    std::vector<DiskRate> rates;
    for (const auto& o : disks) {
      DiskRate r;
      r.device = get_or<std::string>(o, "device", "");
      r.read_bytes_per_s = get_or<double>(o, "read_bytes_per_s", 0);
      r.write_bytes_per_s = get_or<double>(o, "write_bytes_per_s", 0);
      r.busy = get_or<double>(o, "busy", 0);
      rates.push_back(std::move(r));
    }
    s.disks = Known<std::vector<DiskRate>>::of(std::move(rates));
  } else {
    s.disks = Known<std::vector<DiskRate>>::unknown(why_of(j, "disks"));
  }
  if (const json& paths = member(j, "paths"); paths.is_array()) {
    for (const auto& o : paths) {
      PathSpace p;
      p.path = get_or<std::string>(o, "path", "");
      p.free_bytes = get<uint64_t>(o, "free_bytes");
      p.total_bytes = get<uint64_t>(o, "total_bytes");
      s.paths.push_back(std::move(p));
    }
  }
  const json& gen = member(j, "generation");
  s.generation.steps_done = get_or<uint64_t>(gen, "steps_done", 0);
  s.generation.frames_done = get_or<uint64_t>(gen, "frames_done", 0);
  s.generation.jobs_done = get_or<uint64_t>(gen, "jobs_done", 0);
  s.generation.steps_per_s = get<double>(gen, "steps_per_s");
  s.generation.frames_per_s = get<double>(gen, "frames_per_s");
  if (const json& alerts = member(j, "alerts"); alerts.is_array())
    for (const auto& a : alerts)
      if (a.is_string()) s.alerts.push_back(a.get<std::string>());
  return s;
}

std::string to_jsonl(const MonitorSample& s) {
  return to_json(s).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string to_text(const MonitorSample& s, const TextOptions& o) {
  std::string out;
  auto line = [&out](const std::string& l) { out += l + "\n"; };
  line("sample " + std::to_string(s.seq) + " at " + fmt("%.1f", s.t_s) + " s (over " +
       fmt("%.2f", s.interval_s) + " s)");
  if (s.gpus.empty()) line("GPU    none visible: " + s.gpu_status);
  for (const auto& g : s.gpus) {
    std::string l = "GPU " + std::to_string(g.index) + "  " +
                    show(g.name, [](const std::string& n) { return n; });
    l +=
        ": util " + show(g.utilization_gpu_pct, [](unsigned v) { return std::to_string(v) + "%"; });
    l += "  VRAM ";
    if (g.memory_used_bytes.known() && g.memory_total_bytes.known() &&
        *g.memory_total_bytes.value > 0)
      l += gib(*g.memory_used_bytes.value) + "/" + gib(*g.memory_total_bytes.value) + " GiB (" +
           pct(static_cast<double>(*g.memory_used_bytes.value) /
               static_cast<double>(*g.memory_total_bytes.value)) +
           ")";
    else
      l += "?";
    l += "  " + show(
                    g.temperature_c, [](double c) { return fmt("%.0f C", c); }, "? C");
    l += "  " + show(g.power_usage_watts, [](double w) { return fmt("%.0f", w); }) + "/" +
         show(g.power_limit_watts, [](double w) { return fmt("%.0f", w); }) + " W";
    l += "  SM " + show(g.clock_sm_mhz, [](unsigned v) { return std::to_string(v); }) + " MHz";
    l += "  mem " + show(g.clock_memory_mhz, [](unsigned v) { return std::to_string(v); }) + " MHz";
    l += "  throttle: ";
    if (!g.throttle_reasons.known()) {
      l += "?";
    } else {
      auto names = throttle_reason_names(*g.throttle_reasons.value);
      std::string joined;
      for (const auto& n : names) joined += (joined.empty() ? "" : ",") + n;
      l += joined.empty() ? "none" : joined;
    }
    line(l);
  }
  line("CPU    " + show(s.cpu.total, pct, "? (" + s.cpu.total.why + ")") + " of " +
       std::to_string(s.cpu.cores.size()) + " CPUs, temp " +
       show(
           s.cpu_temp_c, [](double c) { return fmt("%.1f C", c); },
           "unknown (" + s.cpu_temp_c.why + ")"));
  const int per_line = std::max(1, o.cores_per_line);
  for (size_t i = 0; i < s.cpu.cores.size(); i += static_cast<size_t>(per_line)) {
    std::string l = "cores  ";
    for (size_t k = i; k < std::min(s.cpu.cores.size(), i + static_cast<size_t>(per_line)); ++k) {
      const auto& v = s.cpu.cores[k].second;
      l += v.known() ? fmt("%4.0f", *v.value * 100.0) : std::string("   ?");
    }
    line(l + "  % (cpu " + std::to_string(s.cpu.cores[i].first) + "..)");
  }
  if (s.memory.total_bytes.known() && s.memory.available_bytes.known() &&
      *s.memory.total_bytes.value > 0) {
    const uint64_t total = *s.memory.total_bytes.value,
                   avail = std::min(*s.memory.available_bytes.value, total);
    line("RAM    " + gib(total - avail) + "/" + gib(total) + " GiB used (" +
         pct(static_cast<double>(total - avail) / static_cast<double>(total)) + "), " + gib(avail) +
         " GiB available");
  } else {
    line("RAM    unknown (" +
         (s.memory.total_bytes.known() ? s.memory.available_bytes.why : s.memory.total_bytes.why) +
         ")");
  }
  if (!s.disks.known()) {
    line("disk   I/O unknown (" + s.disks.why + ")");
  } else {
    for (const auto& d : *s.disks.value)
      line("disk   " + d.device + ": read " + mbs(d.read_bytes_per_s) + ", write " +
           mbs(d.write_bytes_per_s) + ", busy " + pct(d.busy));
    if (s.disks.value->empty()) line("disk   no disk in /proc/diskstats");
  }
  for (const auto& p : s.paths)
    line("space  " + p.path + ": " +
         (p.free_bytes.known() && p.total_bytes.known()
              ? gib(*p.free_bytes.value) + " GiB free of " + gib(*p.total_bytes.value) + " GiB"
              : "unknown (" + p.free_bytes.why + ")"));
  const auto& g = s.generation;
  if (g.steps_done > 0 || g.jobs_done > 0)
    line("speed  " +
         show(
             g.steps_per_s, [](double v) { return fmt("%.3g steps/s", v); },
             "no step this interval") +
         ", " + std::to_string(g.steps_done) + " steps, " + std::to_string(g.jobs_done) +
         " jobs, " + std::to_string(g.frames_done) + " frames" +
         show(
             g.frames_per_s, [](double v) { return fmt(", last job %.3g frames/s", v); }, ""));
  if (s.alerts.empty()) line("alerts none");
  for (const auto& a : s.alerts) line("ALERT  " + a);
  return out;
}

}  // namespace wan22::perf
