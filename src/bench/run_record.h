// One benchmark run as stored in the results database and written as JSON: where it ran (the
// machine fingerprint), what code it ran (git revision), when, which suite, and its metrics.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bench/metric.h"

namespace wan22::bench {

struct Machine {
  std::string cpu;  // CPU model name
  int logical_cores = 0;
  int physical_cores = 0;
  uint64_t ram_bytes = 0;
  std::string gpu;     // "" when none
  std::string driver;  // NVIDIA driver version, "" when none
  std::string cuda;    // CUDA runtime version, "" when not built with CUDA
  std::string os;      // kernel name and release

  // A stable id of the hardware and driver (CPU model, cores, RAM in GiB, GPU, driver): 16 hex
  // digits. Runs with the same fingerprint are comparable machines.
  std::string fingerprint() const;
};

// Time of one pipeline stage of the main workload (the report's stage chart).
struct Stage {
  std::string name;
  double seconds = 0;
};

struct RunRecord {
  int64_t id = 0;  // database row id; 0 until stored
  Machine machine;
  int threads = 0;       // CPU threads used
  std::string revision;  // git revision of the build ("unknown" outside git)
  std::string date;      // ISO 8601 UTC, e.g. 2026-11-28T19:01:02Z
  std::string suite;     // quick | full | gpu
  std::string device;    // cpu | cuda
  std::string model;     // "demo" or the checkpoint path or "random weights"
  std::vector<Metric> metrics;
  std::vector<Stage> stages;
  std::string stages_of;  // the workload the stages belong to, e.g. "the 2-second video (49 frames
                          // 256x160, 4 steps)"

  const Metric* find(const std::string& name) const;
};

const char* better_name(Better b);  // "lower" | "higher"
bool parse_better(const std::string& s, Better* out);

// The current time as ISO 8601 UTC.
std::string now_iso8601();

}  // namespace wan22::bench
