// A value that may be unknown; when unknown it carries the reason (shown to the user).
#pragma once
#include <optional>
#include <string>
#include <utility>

namespace wan22::perf {

template <class T>
struct Known {
  std::optional<T> value;
  std::string why;  // set when !value

  static Known of(T v) { return Known{std::move(v), {}}; }
  static Known unknown(std::string reason) { return Known{std::nullopt, std::move(reason)}; }
  bool known() const { return value.has_value(); }
};

}  // namespace wan22::perf
