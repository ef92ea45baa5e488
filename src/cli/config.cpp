// wan22 config validate|show|init|docs: check, inspect and write configuration files.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cli/command.h"
#include "config/cli_options.h"
#include "config/render.h"
#include "config/settings.h"
#include "config/validate.h"
#include "core/status.h"

namespace wan22::cli {
namespace {

const char* kUsage =
    "usage: wan22 config <subcommand> [options]\n\n"
    "The configuration file is JSON with // and /* */ comments. It accepts every section of the\n"
    "performance guide verbatim (memory_optimization, cpu_offload, ..., rtx4080_optimizations as an\n"
    "alias of gpu_optimizations) plus the engine's `generation` defaults; docs/config.md describes\n"
    "every key. Effective settings: defaults < --config FILE < command-line overrides.\n\n"
    "subcommands:\n"
    "  validate FILE...   check config files: prints OK and a summary, or every problem (exit 1)\n"
    "  show               every effective setting with its value, source and status\n"
    "  init [FILE]        write a commented config with every key at its default (stdout without FILE)\n"
    "  docs               print the Markdown reference of every key (the generated part of docs/config.md)\n\n"
    "Run 'wan22 config <subcommand> --help' for its options.\n";

bool is_help(const std::string& a) { return a == "--help" || a == "-h"; }

// Groups not-applied keys by status: "  planned: issue 6 (...): a, b, c".
void print_not_applied(FILE* f, const std::string& prefix, const std::vector<config::NotApplied>& list,
                       const std::string& lp = "") {
  if (list.empty()) return;
  std::fprintf(f, "%swarning: %zu key(s) set but not applied by this build:\n", prefix.c_str(), list.size());
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::string>> by_status;
  for (const auto& n : list) {
    std::string st = n.status.str();
    if (!by_status.count(st)) order.push_back(st);
    by_status[st].push_back(n.path + "=" + config::short_value(n.value));
  }
  for (const auto& st : order) {
    std::fprintf(f, "%s  %s:\n", lp.c_str(), st.c_str());
    std::string line;
    for (const auto& k : by_status[st]) {
      if (!line.empty() && line.size() + 2 + k.size() > 96) {
        std::fprintf(f, "%s    %s,\n", lp.c_str(), line.c_str());
        line.clear();
      }
      if (!line.empty()) line += ", ";
      line += k;
    }
    std::fprintf(f, "%s    %s\n", lp.c_str(), line.c_str());
  }
}

int run_validate(int argc, char** argv) {
  std::vector<std::string> files;
  bool quiet = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (is_help(a)) {
      std::printf(
          "usage: wan22 config validate [--quiet] FILE...\n\n"
          "Checks each config file on its own: JSON syntax (with line and column), unknown sections\n"
          "and keys, value types, ranges and allowed values, and constraints between keys. Prints\n"
          "'FILE: OK' with a summary, then a warning listing the keys that are set but not applied by\n"
          "this build (planned features, not-applicable keys); or every problem, one per line as\n"
          "'FILE: KEY.PATH: what is wrong; allowed: ...'. Exits 1 when any file has a problem.\n"
          "  --quiet   do not list the keys that are not applied\n");
      return 0;
    }
    if (a == "--quiet" || a == "-q") {
      quiet = true;
      continue;
    }
    if (!a.empty() && a[0] == '-' && a != "-") return fail("config validate: unknown option '" + a + "'");
    files.push_back(a);
  }
  if (files.empty()) return fail("config validate: no FILE given (see wan22 config validate --help)");
  int bad = 0;
  for (const auto& f : files) {
    config::Settings s;
    auto problems = s.try_load_file(f);
    if (!problems.empty()) {
      for (const auto& p : problems) std::fprintf(stderr, "%s\n", p.str().c_str());
      std::fprintf(stderr, "%s: INVALID (%zu problem%s)\n", f.c_str(), problems.size(),
                   problems.size() == 1 ? "" : "s");
      ++bad;
      continue;
    }
    std::map<std::string, int> sections;
    for (const auto& k : config::schema())
      if (!s.is_default(k.path)) sections[k.path.substr(0, k.path.find('.'))]++;
    auto na = s.not_applied();
    std::printf("%s: OK (%zu section%s, %zu key%s set, %zu not applied by this build)\n", f.c_str(),
                sections.size(), sections.size() == 1 ? "" : "s", s.num_set(), s.num_set() == 1 ? "" : "s",
                na.size());
    if (!quiet) print_not_applied(stdout, f + ": ", na);
  }
  return bad ? 1 : 0;
}

int run_show(int argc, char** argv) {
  config::ConfigOptions copt;
  bool json = false, changed = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (is_help(a)) {
      std::printf(
          "usage: wan22 config show [--config FILE]... [--set KEY=VALUE]... [--changed] [--json]\n\n"
          "Prints every effective setting as 'KEY = VALUE  [SOURCE]  STATUS', where SOURCE is\n"
          "default, file:<path> or cli, and STATUS says which component uses the key in this build\n"
          "(applied), or that it is fixed, planned (with the issue) or not applicable (with the reason).\n"
          "Ends with the keys that are set but not applied.\n%s"
          "  --changed            only the keys that are not at their default\n"
          "  --json               {\"files\": [...], \"settings\": {KEY: {value, default, source, status}},\n"
          "                        \"not_applied\": [...], \"effective\": {the nested config}}\n",
          config::config_options_help());
      return 0;
    }
    if (config::take_config_option(argc, argv, i, copt)) continue;
    if (a == "--json") json = true;
    else if (a == "--changed") changed = true;
    else return fail("config show: unknown argument '" + a + "' (see wan22 config show --help)");
  }
  config::Settings s = config::load_settings(copt);
  auto na = s.not_applied();
  if (json) {
    config::Json out;
    out["files"] = s.files();
    config::Json all = s.to_json_with_sources();
    if (changed) {
      config::Json only = config::Json::object();
      for (auto& [k, v] : all.items())
        if (v["source"] != "default") only[k] = v;
      all = only;
    }
    out["settings"] = all;
    out["not_applied"] = config::Json::array();
    for (const auto& n : na)
      out["not_applied"].push_back(
          {{"key", n.path}, {"value", n.value}, {"source", n.source.str()}, {"status", n.status.str()}});
    out["effective"] = s.to_json();
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::string layers = "defaults";
  for (const auto& f : s.files()) layers += " < file:" + f;
  if (!copt.sets.empty()) layers += " < cli";
  std::printf("# effective settings: %s\n", layers.c_str());
  std::vector<std::array<std::string, 3>> rows;
  size_t w0 = 0, w1 = 0;
  for (const auto& k : config::schema()) {
    if (changed && s.is_default(k.path)) continue;
    std::string lhs = k.path + " = " + config::format_value(s.get_json(k.path));
    std::string src = "[";
    src += s.source(k.path).str();
    src += ']';
    w0 = std::max(w0, lhs.size());
    w1 = std::max(w1, src.size());
    rows.push_back({lhs, src, k.status.str()});
  }
  w0 = std::min<size_t>(w0, 72);
  for (const auto& r : rows)
    std::printf("%-*s  %-*s  %s\n", static_cast<int>(w0), r[0].c_str(), static_cast<int>(w1), r[1].c_str(),
                r[2].c_str());
  std::printf("# %zu keys, %zu set, %zu set but not applied by this build\n", config::schema().size(), s.num_set(),
              na.size());
  print_not_applied(stdout, "# ", na, "#");
  return 0;
}

int run_init(int argc, char** argv) {
  std::string path;
  bool force = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (is_help(a)) {
      std::printf(
          "usage: wan22 config init [--force] [FILE]\n\n"
          "Writes a commented config file with every section and key at its default, each key\n"
          "preceded by its description, allowed values and status. Without FILE it goes to stdout.\n"
          "An existing FILE is not overwritten unless --force is given.\n");
      return 0;
    }
    if (a == "--force" || a == "-f") force = true;
    else if (!a.empty() && a[0] == '-') return fail("config init: unknown option '" + a + "'");
    else if (path.empty()) path = a;
    else return fail("config init: more than one FILE given");
  }
  const std::string text = config::example_config();
  if (path.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !force)
    return fail("config init: " + path + " exists (use --force to overwrite)");
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return fail("config init: cannot write " + path);
  f << text;
  f.close();
  if (!f) return fail("config init: write error on " + path);
  std::printf("wrote %s (%zu keys at their defaults)\n", path.c_str(), config::schema().size());
  return 0;
}

int run_docs(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (is_help(a)) {
      std::printf(
          "usage: wan22 config docs\n\n"
          "Prints the Markdown reference of every section and key (type, default, allowed values,\n"
          "status, meaning): the generated part of docs/config.md.\n");
      return 0;
    }
    return fail("config docs: unknown argument '" + a + "'");
  }
  std::string md = config::reference_markdown();
  std::fwrite(md.data(), 1, md.size(), stdout);
  return 0;
}

int run_config(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string sub = argv[1];
  if (is_help(sub)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (sub == "validate") return run_validate(argc, argv);
  if (sub == "show") return run_show(argc, argv);
  if (sub == "init") return run_init(argc, argv);
  if (sub == "docs") return run_docs(argc, argv);
  return fail("config: unknown subcommand '" + sub + "' (validate, show, init, docs; see wan22 config --help)");
}

const CommandRegistrar kReg({"config", "validate, show and write configuration files (docs/config.md)", run_config});

}  // namespace
}  // namespace wan22::cli
