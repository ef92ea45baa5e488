// Non-throwing readers for /proc and /sys files below a root directory (tests use fake trees).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "perf/known.h"

namespace wan22::perf {

// root + abs_path ("/proc/meminfo" under root "/x" is "/x/proc/meminfo").
std::string under_root(const std::string& root, const std::string& abs_path);
// The whole file (at most 16 MiB); unknown with the reason when missing or unreadable.
Known<std::string> read_text(const std::string& root, const std::string& abs_path);
// Entry names of a directory, sorted; empty when it is missing.
std::vector<std::string> list_dir(const std::string& root, const std::string& abs_path);
bool path_exists(const std::string& root, const std::string& abs_path);

std::string trim(const std::string& s);
// Whole (trimmed) string as a decimal integer; nullopt on garbage, empty or overflow.
std::optional<int64_t> parse_i64(const std::string& s);
std::optional<uint64_t> parse_u64(const std::string& s);
// Linux cpulist "0-3,8,10-11" -> {0,1,2,3,8,10,11}; "" -> {}; malformed ("3-1,,x") -> unknown.
Known<std::vector<int>> parse_cpulist(const std::string& s);
// {0,1,2,3,8} -> "0-3,8".
std::string format_cpulist(const std::vector<int>& cpus);
// "name<digits>" -> digits (for cpu12, node3, hwmon0, thermal_zone1); nullopt otherwise.
std::optional<int> numbered(const std::string& name, const std::string& prefix);

}  // namespace wan22::perf
