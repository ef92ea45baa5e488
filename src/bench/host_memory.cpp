#include "bench/host_memory.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace wan22::bench {

namespace {
uint64_t status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') {
      unsigned long long kb = 0;
      if (std::sscanf(line.c_str() + n + 1, "%llu", &kb) == 1) return kb * 1024ull;
    }
  }
  return 0;
}
}  // namespace

uint64_t peak_rss_bytes() { return status_kb("VmHWM"); }
uint64_t current_rss_bytes() { return status_kb("VmRSS"); }

bool reset_peak_rss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

std::optional<Metric> peak_rss_metric(const std::string& scope, bool was_reset) {
  const uint64_t hwm = peak_rss_bytes();
  if (hwm == 0) return std::nullopt;
  Metric m;
  m.name = "peak_rss_gib";
  m.unit = "GiB";
  m.value = static_cast<double>(hwm) / (1ull << 30);
  m.samples = {m.value};
  m.note = "host resident-set high-water " + scope +
           (was_reset ? "" : " (could not reset it first: includes everything before)");
  return m;
}

}  // namespace wan22::bench
