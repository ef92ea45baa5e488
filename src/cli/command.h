// Subcommand registry of the wan22 executable: each cli/<name>.cpp registers itself.
#pragma once
#include <string>
#include <vector>

namespace wan22::cli {

struct Command {
  std::string name;
  std::string summary;  // one line for `wan22 --help`
  int (*run)(int argc, char** argv);  // argv[0] is the subcommand name
};

std::vector<Command>& commands();

struct CommandRegistrar {
  explicit CommandRegistrar(Command c) { commands().push_back(std::move(c)); }
};

// Prints "wan22: error: <msg>" to stderr and returns the exit code for errors (1).
int fail(const std::string& msg);

}  // namespace wan22::cli
