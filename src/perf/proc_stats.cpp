#include "perf/proc_stats.h"

#include <algorithm>
#include <sstream>

#include "perf/sysfs_read.h"

namespace wan22::perf {
namespace {

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

// user nice system idle [iowait irq softirq steal [guest guest_nice]]; guest time is already in
// user.
bool cpu_times(const std::vector<std::string>& w, CpuTimes& out) {
  if (w.size() < 5) return false;
  uint64_t v[8] = {};
  const size_t n = std::min<size_t>(w.size() - 1, 8);
  uint64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    auto x = parse_u64(w[i + 1]);
    if (!x) return false;
    v[i] = *x;
    if (total + v[i] < total) return false;  // overflow: garbage
    total += v[i];
  }
  const uint64_t idle = v[3] + v[4];
  out.total = total;
  out.busy = total - idle;
  return true;
}

}  // namespace

Known<ProcStat> parse_proc_stat(const std::string& text) {
  ProcStat st;
  std::istringstream in(text);
  std::string line;
  bool any = false;
  while (std::getline(in, line)) {
    if (line.rfind("cpu", 0) != 0) continue;
    auto w = words(line);
    if (w.empty()) continue;
    CpuTimes t;
    if (!cpu_times(w, t)) continue;
    if (w[0] == "cpu") {
      st.has_all = true;
      st.all = t;
      any = true;
    } else if (auto n = numbered(w[0], "cpu")) {
      st.cores[*n] = t;
      any = true;
    }
  }
  if (!any) return Known<ProcStat>::unknown("no readable cpu line in /proc/stat");
  if (!st.has_all) {  // sum the cores
    for (const auto& [i, t] : st.cores) {
      st.all.busy += t.busy;
      st.all.total += t.total;
    }
    st.has_all = true;
  }
  return Known<ProcStat>::of(std::move(st));
}

Known<ProcStat> read_proc_stat(const std::string& root) {
  auto text = read_text(root, "/proc/stat");
  if (!text.known()) return Known<ProcStat>::unknown(text.why);
  return parse_proc_stat(*text.value);
}

Known<double> cpu_busy_fraction(const CpuTimes& before, const CpuTimes& after) {
  if (after.total < before.total || after.busy < before.busy)
    return Known<double>::unknown("CPU counters went back (CPU hot-plugged?)");
  const uint64_t dt = after.total - before.total;
  if (dt == 0) return Known<double>::unknown("no CPU time elapsed between two readings");
  const double f = static_cast<double>(after.busy - before.busy) / static_cast<double>(dt);
  return Known<double>::of(std::clamp(f, 0.0, 1.0));
}

std::vector<DiskCounters> parse_diskstats(const std::string& text) {
  // major minor name reads merged sectors_read ms_read writes merged sectors_written ms_write
  // in_flight io_ms weighted_ms [discard and flush fields]
  std::vector<DiskCounters> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto w = words(line);
    if (w.size() < 14) continue;
    if (!parse_u64(w[0]) || !parse_u64(w[1]) || w[2].empty()) continue;
    auto sr = parse_u64(w[5]), sw = parse_u64(w[9]), io = parse_u64(w[12]);
    if (!sr || !sw || !io) continue;
    out.push_back({w[2], *sr, *sw, *io});
  }
  return out;
}

std::vector<DiskCounters> whole_disks(const std::vector<DiskCounters>& all,
                                      const std::vector<std::string>& sys_block) {
  std::vector<DiskCounters> out;
  for (const auto& d : all) {
    if (d.device.rfind("loop", 0) == 0 || d.device.rfind("ram", 0) == 0) continue;
    if (!sys_block.empty() &&
        std::find(sys_block.begin(), sys_block.end(), d.device) == sys_block.end())
      continue;
    out.push_back(d);
  }
  return out;
}

Known<std::vector<DiskCounters>> read_disk_counters(const std::string& root) {
  auto text = read_text(root, "/proc/diskstats");
  if (!text.known()) return Known<std::vector<DiskCounters>>::unknown(text.why);
  return Known<std::vector<DiskCounters>>::of(
      whole_disks(parse_diskstats(*text.value), list_dir(root, "/sys/block")));
}

std::vector<DiskRate> disk_rates(const std::vector<DiskCounters>& before,
                                 const std::vector<DiskCounters>& after, double seconds) {
  std::vector<DiskRate> out;
  if (!(seconds > 0)) return out;
  for (const auto& a : after) {
    auto b = std::find_if(before.begin(), before.end(),
                          [&](const DiskCounters& x) { return x.device == a.device; });
    if (b == before.end()) continue;
    if (a.sectors_read < b->sectors_read || a.sectors_written < b->sectors_written ||
        a.io_ms < b->io_ms)
      continue;
    DiskRate r;
    r.device = a.device;
    r.read_bytes_per_s = static_cast<double>(a.sectors_read - b->sectors_read) * 512.0 / seconds;
    r.write_bytes_per_s =
        static_cast<double>(a.sectors_written - b->sectors_written) * 512.0 / seconds;
    r.busy = std::clamp(static_cast<double>(a.io_ms - b->io_ms) / (seconds * 1000.0), 0.0, 1.0);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace wan22::perf
