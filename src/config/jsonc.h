// JSON with comments: `//` line and `/* */` block comments outside strings, as the guide writes
// them. Objects whose key appears twice are merged (the guide repeats `memory_optimization`);
// a value set twice is a problem.
#pragma once
#include <string>
#include <vector>

#include "config/problem.h"
#include "config/schema.h"

namespace wan22::config {

struct ParsedText {
  Json value;
  std::vector<Problem> problems;  // duplicate keys (not fatal to parsing)
};

// Parses `text`. A syntax error throws Error(kInvalidArgument) "ORIGIN:LINE:COL: message".
ParsedText parse_jsonc(const std::string& text, const std::string& origin);

// The text of a config file (a missing file: Error(kNotFound); a directory: kInvalidArgument).
std::string read_config_file(const std::string& path);

// Reads and parses a file (a missing/unreadable file throws Error(kNotFound / kIoError)).
ParsedText parse_jsonc_file(const std::string& path);

}  // namespace wan22::config
