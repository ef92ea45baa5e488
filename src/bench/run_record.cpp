#include "bench/run_record.h"

#include <cstdio>
#include <ctime>

namespace wan22::bench {

std::string Machine::fingerprint() const {
  // FNV-1a 64 over the fields that define comparable hardware.
  const std::string key =
      cpu + "|" + std::to_string(logical_cores) + "|" + std::to_string(physical_cores) + "|" +
      std::to_string((ram_bytes + (1ull << 29)) >> 30) + "|" + gpu + "|" + driver;
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

const Metric* RunRecord::find(const std::string& name) const { return find_metric(metrics, name); }

const char* better_name(Better b) { return b == Better::kHigher ? "higher" : "lower"; }

bool parse_better(const std::string& s, Better* out) {
  if (s == "lower")
    *out = Better::kLower;
  else if (s == "higher")
    *out = Better::kHigher;
  else
    return false;
  return true;
}

std::string now_iso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace wan22::bench
