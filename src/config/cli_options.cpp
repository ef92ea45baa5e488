#include "config/cli_options.h"

#include "core/status.h"

namespace wan22::config {

bool take_config_option(int argc, char** argv, int& i, ConfigOptions& o) {
  const std::string a = argv[i];
  for (const char* name : {"--config", "--set"}) {
    const std::string n = name;
    std::string value;
    if (a == n) {
      if (i + 1 >= argc) throw Error(ErrorCode::kInvalidArgument, n + ": missing value");
      value = argv[++i];
    } else if (a.rfind(n + "=", 0) == 0) {
      value = a.substr(n.size() + 1);
    } else {
      continue;
    }
    (n == "--config" ? o.files : o.sets).push_back(value);
    return true;
  }
  return false;
}

Settings load_settings(const ConfigOptions& o) {
  Settings s;
  s.begin_batch();
  for (const auto& f : o.files) s.load_file(f);
  for (const auto& kv : o.sets) s.set_cli_assignment(kv);
  s.end_batch();
  return s;
}

const char* config_options_help() {
  return "  --config FILE        JSON config file (// comments allowed; see docs/config.md); repeatable\n"
         "  --set KEY=VALUE      override one setting, e.g. --set memory_pool.pool_size_gb=16; repeatable\n";
}

}  // namespace wan22::config
