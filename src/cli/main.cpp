// wan22: the command-line entry point; dispatches to the registered subcommands.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/command.h"
#include "core/log.h"
#include "core/status.h"

namespace wan22::cli {

std::vector<Command>& commands() {
  static std::vector<Command> c;
  return c;
}

int fail(const std::string& msg) {
  std::fprintf(stderr, "wan22: error: %s\n", msg.c_str());
  return 1;
}

namespace {
void print_help() {
  std::printf(
      "wan22 %s - Wan2.2 video generation engine\n\n"
      "usage: wan22 [--log-level debug|info|warn|error] <command> [options]\n\n"
      "commands:\n",
      WAN22_VERSION);
  auto cmds = commands();
  std::sort(cmds.begin(), cmds.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  for (const auto& c : cmds) std::printf("  %-10s %s\n", c.name.c_str(), c.summary.c_str());
  std::printf("\nRun 'wan22 <command> --help' for the options of a command.\n");
}
}  // namespace

}  // namespace wan22::cli

int main(int argc, char** argv) {
  using namespace wan22::cli;
  int i = 1;
  while (i < argc && argv[i][0] == '-') {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      print_help();
      return 0;
    }
    if (a == "--version") {
      std::printf("wan22 %s\n", WAN22_VERSION);
      return 0;
    }
    if (a == "--log-level" && i + 1 < argc) {
      wan22::LogLevel l;
      if (!wan22::parse_log_level(argv[i + 1], &l)) return fail(std::string("unknown log level '") + argv[i + 1] + "'");
      wan22::set_log_level(l);
      i += 2;
      continue;
    }
    return fail("unknown option '" + a + "' (see wan22 --help)");
  }
  if (i >= argc) {
    print_help();
    return 2;
  }
  std::string name = argv[i];
  for (const auto& c : commands()) {
    if (c.name == name) {
      try {
        return c.run(argc - i, argv + i);
      } catch (const wan22::Error& e) {
        return fail(e.what());
      } catch (const std::bad_alloc&) {
        return fail("out of host memory");
      } catch (const std::exception& e) {
        return fail(std::string("internal error: ") + e.what());
      }
    }
  }
  return fail("unknown command '" + name + "' (see wan22 --help)");
}
