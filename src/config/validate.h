// Validation of configuration values against the schema: unknown keys, wrong types, out-of-range
// values and cross-key constraints. Every problem is reported, each naming its full key path.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "config/problem.h"
#include "config/schema.h"

namespace wan22::config {

// "" when `v` is allowed for `spec`, else the message ("expected ..., got ...").
std::string check_value(const KeySpec& spec, const Json& v);

struct FlatValue {
  std::string path;     // canonical key path
  std::string written;  // the path as written (an alias section keeps its name)
  Json value;
};

struct Validated {
  std::vector<FlatValue> values;  // the valid leaves, in document order
  std::vector<Problem> problems;
};

// Walks a parsed document (the root must be an object).
Validated validate_document(const Json& doc, const std::string& origin);

// Constraints between keys, checked on the effective values. `get` returns the effective value of
// a canonical path; `origin_of` where it came from (for the Problem's origin).
std::vector<Problem> cross_check(const std::function<const Json&(const std::string&)>& get,
                                 const std::function<std::string(const std::string&)>& origin_of);

// Short printable form of a JSON value (strings quoted, long values cut).
std::string short_value(const Json& v);

}  // namespace wan22::config
