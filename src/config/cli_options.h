// The configuration options every wan22 subcommand that runs work accepts:
//   --config FILE      layer a config file over the defaults (repeatable; later files win)
//   --set KEY=VALUE    override one key (repeatable; wins over files)
// Usage in a subcommand's argument loop:
//   config::ConfigOptions copt;
//   for (int i = 1; i < argc; ++i) {
//     if (config::take_config_option(argc, argv, i, copt)) continue;
//     ...
//   }
//   config::Settings s = config::load_settings(copt);
//   s.set_cli("generation.steps", steps_text, "--steps");   // the command's own flags
//   config::warn_not_applied(s);
#pragma once
#include <string>
#include <vector>

#include "config/settings.h"

namespace wan22::config {

struct ConfigOptions {
  std::vector<std::string> files;
  std::vector<std::string> sets;  // "KEY=VALUE"
};

// If argv[i] is --config FILE, --config=FILE, --set KEY=VALUE or --set=KEY=VALUE, records it,
// advances i past its value and returns true. A missing value throws Error(kInvalidArgument).
bool take_config_option(int argc, char** argv, int& i, ConfigOptions& o);

// Defaults < files (in order) < sets. Throws Error(kInvalidArgument) listing every problem.
Settings load_settings(const ConfigOptions& o);

// Help lines for the two options (for a subcommand's --help).
const char* config_options_help();

}  // namespace wan22::config
