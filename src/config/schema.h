// The configuration schema: every section and key the config file accepts (the guide's sections
// verbatim plus the engine's own), with type, allowed values, default, description and status.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wan22::config {

using Json = nlohmann::ordered_json;  // keeps the document order of keys

enum class ValueType {
  kBool,
  kInt,       // JSON integer in [min, max]
  kNumber,    // JSON number (integer or float) in [min, max]
  kString,    // any string (KeySpec::check may restrict it)
  kEnum,      // one of KeySpec::choices
  kIntPair,   // [a, b], each an integer in [min, max]
  kEnumList,  // array of distinct KeySpec::choices
};
const char* value_type_name(ValueType t);

// What this build does with a key.
enum class Availability {
  kApplied,        // wired: the named component uses the value
  kFixed,          // the engine always behaves as the default value; another value is reported
  kPlanned,        // accepted and validated; the feature is not built yet (detail names the issue)
  kNotApplicable,  // cannot apply to Wan2.2 / this engine (detail says why)
};

struct KeyStatus {
  Availability kind = Availability::kPlanned;
  std::string detail;      // component, reason or issue
  std::string str() const;  // "applied: core/thread_pool", "planned: issue 6 ...", ...
};

struct KeySpec {
  std::string path;  // canonical full path, e.g. "memory_pool.fragmentation_threshold"
  ValueType type = ValueType::kBool;
  Json default_value;
  double min = 0, max = 0;            // kInt, kNumber, kIntPair elements
  std::vector<std::string> choices;   // kEnum, kEnumList
  // Extra per-value check: returns "" when fine, else what is allowed (the message of the error).
  std::string (*check)(const Json&) = nullptr;
  std::string allowed_note;           // human text for `allowed` when check is set
  std::string description;            // one line: what it does in this engine
  KeyStatus status;
  bool from_guide = true;             // the key appears in the guide's snippets
  Json guide_value;                   // the guide's value where it differs from our default (else null)

  std::string allowed() const;        // "an integer in [1, 64]", "one of: bf16, fp16, fp32", ...
};

struct SectionSpec {
  std::string name;   // canonical, e.g. "gpu_optimizations" or "performance_monitoring.performance_targets"
  std::string title;  // a few words
  std::string description;
  bool from_guide = true;
};

// All keys, in documentation order. Built once.
const std::vector<KeySpec>& schema();
// All sections (including nested ones such as performance_monitoring.performance_targets).
const std::vector<SectionSpec>& sections();

// Section aliases: the guide's `rtx4080_optimizations` is `gpu_optimizations`.
struct SectionAlias {
  std::string alias, canonical;
};
const std::vector<SectionAlias>& section_aliases();

// Rewrites an alias prefix to its canonical section ("rtx4080_optimizations.x" -> "gpu_optimizations.x").
std::string canonical_path(const std::string& path);

// The key spec for a path (aliases accepted), or nullptr.
const KeySpec* find_key(const std::string& path);
// True when `path` names a section (an object level) of the schema (aliases accepted).
bool is_section(const std::string& path);
// The direct child names of a section ("" = the top level), in schema order.
std::vector<std::string> children_of(const std::string& section);
// The closest known name to `name` among `candidates` (edit distance), or "" when none is close.
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace wan22::config
