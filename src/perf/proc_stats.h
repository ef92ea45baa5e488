// Counters of /proc/stat (CPU time per core) and /proc/diskstats (I/O per disk), and the rates
// between two readings. Parsers never throw: malformed lines are skipped, a file without a usable
// line is unknown with the reason. Reads go below a root directory (tests use fake trees).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "perf/known.h"

namespace wan22::perf {

// Jiffies of one CPU (or of all): busy = everything but idle and iowait; total = busy + idle +
// iowait.
struct CpuTimes {
  uint64_t busy = 0, total = 0;
};

struct ProcStat {
  bool has_all = false;
  CpuTimes all;                   // the "cpu" line
  std::map<int, CpuTimes> cores;  // "cpuN" lines
};

// /proc/stat text -> counters; unknown when it has no valid cpu line.
Known<ProcStat> parse_proc_stat(const std::string& text);
Known<ProcStat> read_proc_stat(const std::string& root);

// Busy fraction [0, 1] between two readings; unknown when no time passed or a counter went back.
Known<double> cpu_busy_fraction(const CpuTimes& before, const CpuTimes& after);

struct DiskCounters {
  std::string device;
  uint64_t sectors_read = 0,
           sectors_written = 0;  // 512-byte sectors, whatever the device's block size
  uint64_t io_ms = 0;            // milliseconds with I/O in flight
};

// /proc/diskstats text -> counters of every well-formed line (in file order).
std::vector<DiskCounters> parse_diskstats(const std::string& text);

// Whole disks worth reporting: the names under /sys/block when it lists any (partitions are not
// there), else every device; loop and ram devices never.
std::vector<DiskCounters> whole_disks(const std::vector<DiskCounters>& all,
                                      const std::vector<std::string>& sys_block);

// Known<> when /proc/diskstats is readable; the list is whole_disks() of it.
Known<std::vector<DiskCounters>> read_disk_counters(const std::string& root);

struct DiskRate {
  std::string device;
  double read_bytes_per_s = 0, write_bytes_per_s = 0;
  double busy = 0;  // fraction of the interval with I/O in flight, [0, 1]
};

// Rates of the devices present in both readings whose counters did not go back; `seconds` > 0.
std::vector<DiskRate> disk_rates(const std::vector<DiskCounters>& before,
                                 const std::vector<DiskCounters>& after, double seconds);

}  // namespace wan22::perf
