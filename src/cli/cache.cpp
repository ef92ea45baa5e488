// wan22 cache [list|clear|remove NAME]: the model cache's entries (io/model_cache.h).
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.h"
#include "config/cli_options.h"
#include "core/status.h"
#include "io/model_cache.h"

namespace wan22::cli {
namespace {

void usage() {
  std::printf(
      "usage: wan22 cache [list|clear|remove NAME] [--location DIR|ssd] [--json] [--config FILE] [--set K=V]\n\n"
      "The model cache: converted / quantized DiT weights in load-ready form, written by the first\n"
      "`wan22 generate --device cuda` of a checkpoint and format, read by the next ones\n"
      "(model_caching.cache_components / cache_size_gb / cache_location; docs/memory.md).\n\n"
      "  list             entries, most recently used first: name, size, last use, format, source\n"
      "  clear            remove every entry (and partial writes left by an interrupted process)\n"
      "  remove NAME      remove one entry\n"
      "  --location L     the cache directory (default: model_caching.cache_location; ssd =\n"
      "                   $XDG_CACHE_HOME/wan22, else ~/.cache/wan22)\n"
      "  --json           list as JSON\n\n%s",
      config::config_options_help());
}

std::string gib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1024.0 * 1024 * 1024));
  return buf;
}

std::string when(double t) {
  const std::time_t s = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

int run_cache(int argc, char** argv) {
  config::ConfigOptions copt;
  std::string action = "list", name, location;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string o = argv[i];
    if (config::take_config_option(argc, argv, i, copt)) continue;
    if (o == "--help" || o == "-h") {
      usage();
      return 0;
    }
    if (o == "--json") {
      json = true;
    } else if (o == "--location") {
      if (i + 1 >= argc) return fail("cache: --location needs a value");
      location = argv[++i];
    } else if (o == "list" || o == "clear") {
      action = o;
    } else if (o == "remove") {
      if (i + 1 >= argc) return fail("cache: remove needs an entry name (see wan22 cache list)");
      action = o;
      name = argv[++i];
    } else {
      return fail("cache: unknown argument '" + o + "' (wan22 cache --help)");
    }
  }
  const config::Settings s = config::load_settings(copt);
  io::ModelCacheOptions mo;
  mo.enabled = true;
  mo.location = location.empty() ? s.get_string("model_caching.cache_location") : location;
  mo.size_gb = s.get_double("model_caching.cache_size_gb");
  if (mo.location == "ram") {
    return fail("cache: model_caching.cache_location is ram: that cache lives in the memory of the process that "
                "generates and ends with it; nothing to list here (give --location DIR for a directory cache)");
  }
  io::ModelCache cache = io::ModelCache::from_options(mo);
  if (action == "clear") {
    const size_t n = cache.clear();
    std::printf("removed %zu entr%s from %s\n", n, n == 1 ? "y" : "ies", cache.dir().c_str());
    return 0;
  }
  if (action == "remove") {
    if (!cache.remove(name)) return fail("cache: no entry '" + name + "' in " + cache.dir() + " (see wan22 cache list)");
    std::printf("removed %s\n", name.c_str());
    return 0;
  }
  const auto entries = cache.list();
  uint64_t total = 0;
  for (const auto& e : entries) total += e.bytes;
  if (json) {
    nlohmann::json j;
    j["location"] = cache.dir();
    j["limit_bytes"] = cache.limit_bytes();
    j["total_bytes"] = total;
    j["entries"] = nlohmann::json::array();
    for (const auto& e : entries) {
      nlohmann::json m = nlohmann::json::object();
      for (const auto& [k, v] : e.metadata) m[k] = v;
      j["entries"].push_back({{"name", e.name}, {"path", e.path}, {"bytes", e.bytes}, {"last_used", when(e.last_used)},
                              {"metadata", m}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model cache %s: %zu entr%s, %s\n", cache.describe().c_str(), entries.size(),
              entries.size() == 1 ? "y" : "ies", gib(total).c_str());
  for (const auto& e : entries) {
    auto get = [&](const char* k) {
      auto it = e.metadata.find(k);
      return it == e.metadata.end() ? std::string("?") : it->second;
    };
    std::printf("  %-26s %10s  %s  %s %s  %s\n", e.name.c_str(), gib(e.bytes).c_str(), when(e.last_used).c_str(),
                get("wan22_component").c_str(), get("format").c_str(), get("source").c_str());
  }
  return 0;
}

const CommandRegistrar kReg({"cache", "list or clear the model cache (load-ready converted weights)", run_cache});

}  // namespace
}  // namespace wan22::cli
