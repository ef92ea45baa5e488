// One problem found in a configuration: the key path it concerns and what is wrong.
#pragma once
#include <string>
#include <vector>

namespace wan22::config {

struct Problem {
  std::string origin;   // "file:<path>", "cli", ... ("" when unknown)
  std::string path;     // full key path as written, e.g. "memory_pool.fragmentation_threshold" ("" = root)
  std::string message;  // what is wrong and what is allowed
  // "<file>: <path>: <message>" (the origin prefix "file:" is dropped for readability).
  std::string str() const;
};

// All problems, one per line.
std::string join_problems(const std::vector<Problem>& problems);

}  // namespace wan22::config
