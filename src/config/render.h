// Text forms of the schema and of settings: the commented config file (`wan22 config init`) and
// the Markdown reference of every key (`wan22 config docs`, the generated part of docs/config.md).
#pragma once
#include <string>

#include "config/settings.h"

namespace wan22::config {

// A value as written in a config file: true, 32, 0.1, "bf16", [256, 256], ["a", "b"].
std::string format_value(const Json& v);

// A commented JSON config file holding every key of `s` with its value, in schema order; each key
// is preceded by a `//` line with its description and status. `header` lines go on top.
std::string render_config(const Settings& s, const std::string& header);

// The commented example config with every key at its default (what `wan22 config init` writes).
std::string example_config();

// The Markdown reference: per section, a table of key, type, default, allowed values, status, meaning.
std::string reference_markdown();

}  // namespace wan22::config
