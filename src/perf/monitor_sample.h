// One monitoring sample (what `wan22 monitor` shows and writes as one JSON line), its JSON form
// and its text rendering. Values that cannot be read are Known::unknown with the reason; in JSON
// they are null and the reason is under the object's "unknown" key.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "perf/known.h"
#include "perf/nvml.h"
#include "perf/proc_stats.h"
#include "perf/sysinfo.h"

namespace wan22::perf {

struct CpuLoad {
  Known<double> total;                               // busy fraction [0, 1] of all CPUs
  std::vector<std::pair<int, Known<double>>> cores;  // per logical CPU, by number
};

struct PathSpace {
  std::string path;
  Known<uint64_t> free_bytes,
      total_bytes;  // of the filesystem holding the path (or its nearest existing parent)
};

// Generation speed fed by the pipeline (Monitor::speed()).
struct GenerationSpeed {
  uint64_t steps_done = 0;   // denoising steps since the monitor started
  uint64_t frames_done = 0;  // frames of finished jobs
  uint64_t jobs_done = 0;
  Known<double> steps_per_s;   // over the steps finished since the previous sample
  Known<double> frames_per_s;  // of the job that finished last, frames / wall seconds of that job
};

struct MonitorSample {
  uint64_t seq = 0;       // 0, 1, 2, ... per monitor
  double t_s = 0;         // seconds since the monitor started
  double interval_s = 0;  // seconds since the previous reading (rates are over this)
  int64_t unix_ms = 0;    // wall clock

  std::string gpu_status;  // "ok: ..." or why no GPU is visible
  std::vector<NvmlGpu> gpus;

  CpuLoad cpu;
  Known<double> cpu_temp_c;  // hottest CPU sensor
  std::vector<Temperature> temperatures;
  MemoryInfo memory;
  Known<std::vector<DiskRate>> disks;  // whole disks
  std::vector<PathSpace> paths;
  GenerationSpeed generation;

  std::vector<std::string> alerts;  // messages of the alerts active after this sample
};

// hwmon chips and thermal zones that measure the CPU package or cores (coretemp, k10temp,
// zenpower, x86_pkg_temp, *cpu*, soc*), as opposed to disks, GPUs, boards or ACPI zones.
bool is_cpu_sensor(const Temperature& t);
// Hottest CPU sensor; unknown with the reason when there is none.
Known<double> hottest_cpu(const std::vector<Temperature>& temps);

nlohmann::json to_json(const MonitorSample& s);
// Inverse of to_json for the fields it writes (GPU identity beyond index and name is not kept).
// Missing or mistyped fields become unknown; never throws on a JSON object.
MonitorSample sample_from_json(const nlohmann::json& j);
// One line of JSON-lines (no newline inside, '\n' at the end).
std::string to_jsonl(const MonitorSample& s);

struct TextOptions {
  int cores_per_line = 16;
};
// The live view: a few lines (GPU, CPU, cores, temperatures, RAM, disks, space, speed, alerts).
std::string to_text(const MonitorSample& s, const TextOptions& o = {});

}  // namespace wan22::perf
