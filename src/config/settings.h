// Effective settings: defaults < config file(s) (--config FILE) < command-line overrides. Each value
// remembers where it came from. The typed accessors are how the rest of the engine reads a setting:
//
//   const config::Settings& s = ...;
//   int64_t n = s.get_int("memory_optimization.checkpoint_segments");
//   double f  = s.get_double("memory_pool.fragmentation_threshold");
//   auto tile = s.get_int_pair("tile_optimization.vae_tile_size");   // {256, 256}
//   if (!s.is_default("generation.steps")) ...                        // set by file or CLI
//
// Paths are the canonical ones of docs/config.md (the alias rtx4080_optimizations is accepted).
// An unknown path or a getter of the wrong type is a programming error: Error(kInternal).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/problem.h"
#include "config/schema.h"

namespace wan22::config {

enum class SourceKind { kDefault, kFile, kCli };

struct Source {
  SourceKind kind = SourceKind::kDefault;
  std::string file;   // kFile: the path
  std::string str() const;  // "default", "file:<path>", "cli"
};

// A key set away from its default whose value this build does not apply.
struct NotApplied {
  std::string path;
  Json value;
  Source source;
  KeyStatus status;
  // "cpu_offload.safety_checker = true (file:x.json): not applicable: Wan2.2 has no safety checker"
  std::string str() const;
};

class Settings {
 public:
  Settings();  // every key at its default

  // Layers a config file over the current values. On any problem (syntax, unknown key, wrong type,
  // out of range, cross-key) nothing changes and Error(kInvalidArgument) lists every problem, one per line.
  void load_file(const std::string& path);
  // As load_file, but returns the problems (a syntax error is one problem) and applies only when none.
  std::vector<Problem> try_load_file(const std::string& path);
  // The same for text (origin labels the problems, e.g. "file:x.json").
  std::vector<Problem> try_load_text(const std::string& text, const std::string& origin);

  // A command-line override. `text` is read according to the key's type: bool true/false/1/0/yes/no/on/off,
  // numbers, strings verbatim, pairs "256x256" / "256,256" / "[256,256]", lists "a,b,c" / JSON arrays.
  // `option` names the flag in error messages (e.g. "--steps"; default "--set").
  // Throws Error(kInvalidArgument) naming the key path and what is allowed.
  void set_cli(const std::string& path, const std::string& text, const std::string& option = "");
  void set_cli_json(const std::string& path, const Json& value, const std::string& option = "");
  // "path=value" (the form of `--set`).
  void set_cli_assignment(const std::string& assignment);

  // Batch mode: between begin_batch() and end_batch() the constraints between keys (e.g.
  // min_steps <= max_steps) are not checked by each load/set, so the order of layers does not
  // matter; end_batch() checks them once on the result and throws Error listing every problem.
  void begin_batch() { batch_ = true; }
  void end_batch();
  // The constraint problems of the current values (empty when consistent).
  std::vector<Problem> cross_problems() const;

  // ---- typed accessors ----
  bool get_bool(const std::string& path) const;
  int64_t get_int(const std::string& path) const;
  double get_double(const std::string& path) const;  // kNumber and kInt keys
  std::string get_string(const std::string& path) const;  // kString and kEnum keys
  std::array<int64_t, 2> get_int_pair(const std::string& path) const;
  std::vector<std::string> get_string_list(const std::string& path) const;
  // A "WIDTHxHEIGHT" string key (generation.size) as {width, height}.
  std::array<int64_t, 2> get_size(const std::string& path) const;
  const Json& get_json(const std::string& path) const;

  const Source& source(const std::string& path) const;
  bool is_default(const std::string& path) const;  // still at its default (set by nobody)
  const KeySpec& spec(const std::string& path) const;

  // Keys set (by a file or the CLI) whose value this build does not apply, in schema order.
  std::vector<NotApplied> not_applied() const;
  // The config files loaded, in order.
  const std::vector<std::string>& files() const { return files_; }
  // Number of keys not at their default.
  size_t num_set() const;

  // The effective values as a nested config document (valid input for load_file).
  Json to_json() const;
  // {"<path>": {"value", "default", "source", "status"}} for every key, in schema order.
  Json to_json_with_sources() const;

 private:
  struct Entry {
    Json value;
    Source source;
  };
  const Entry& entry(const std::string& path) const;
  std::vector<Problem> commit(const std::vector<std::pair<std::string, Json>>& values, const Source& src);

  std::map<std::string, Entry> values_;  // canonical path -> entry
  std::vector<std::string> files_;
  bool batch_ = false;
};

// Logs one warning line per key that is set but not applied ("not applied: ..."); returns the count.
size_t warn_not_applied(const Settings& s);

}  // namespace wan22::config
