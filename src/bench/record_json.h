// A run as JSON (the format of `wan22 bench --json`, docs/bench.md):
//   {"machine": {"cpu", "logical_cores", "physical_cores", "ram_gib", "gpu", "driver", "cuda",
//   "os",
//                "fingerprint", "threads"},
//    "revision", "date", "suite", "device", "model", "threads",
//    "metrics": {name: value, ...},
//    "details": [{"name", "value", "unit", "better", "samples", "note", "noise_band", "rel_mad"},
//    ...], "stages": [{"name", "seconds"}, ...]}
// A value that is not a number (NaN) is written as null.
#pragma once
#include <nlohmann/json.hpp>

#include "bench/run_record.h"

namespace wan22::bench {

nlohmann::ordered_json run_to_json(const RunRecord& run);
// Reads what run_to_json wrote. Throws Error(kCorruptData) naming the missing or bad field.
RunRecord run_from_json(const nlohmann::ordered_json& j);

}  // namespace wan22::bench
