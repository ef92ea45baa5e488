// The process's host memory high-water mark (VmHWM of /proc/self/status) and its reset
// (writing 5 to /proc/self/clear_refs, Linux >= 4.0), so a workload's own peak can be measured.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "bench/metric.h"

namespace wan22::bench {

// Peak resident set size in bytes; 0 when it cannot be read.
uint64_t peak_rss_bytes();
// Current resident set size in bytes; 0 when it cannot be read.
uint64_t current_rss_bytes();
// Resets the high-water mark to the current RSS; false when the kernel refuses.
bool reset_peak_rss();

// peak_rss_gib (GiB, lower is better, one sample) from the current high-water mark; `scope` says
// over what it was taken ("over the suite"), `was_reset` whether reset_peak_rss() succeeded
// before it. Empty when the mark cannot be read.
std::optional<Metric> peak_rss_metric(const std::string& scope, bool was_reset);

}  // namespace wan22::bench
