// Errors as values at API boundaries (Status / Result<T>); an exception type for inside.
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace wan22 {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // bad option, wrong shape, bad request
  kNotFound,         // missing file, key or component
  kCorruptData,      // malformed / truncated file contents
  kUnsupported,      // valid input we cannot handle (dtype, layout, device)
  kOutOfMemory,
  kIoError,
  kInternal,
};

const char* error_code_name(ErrorCode c);

class Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }
  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// Thrown inside the engine; converted to Status at the boundary (see capture()).
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }
  Status status() const { return Status(code_, what()); }

 private:
  ErrorCode code_;
};

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status(ErrorCode::kInternal, "Result built from OK status");
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & {
    if (!ok()) throw Error(status().code(), status().message());
    return std::get<T>(v_);
  }
  const T& value() const& {
    if (!ok()) throw Error(status().code(), status().message());
    return std::get<T>(v_);
  }
  T&& value() && {
    if (!ok()) throw Error(status().code(), status().message());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> v_;
};

// Runs f() and turns any exception into a Status (the library boundary).
template <class F>
Status capture(F&& f) {
  try {
    f();
    return Status::Ok();
  } catch (const Error& e) {
    return e.status();
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kOutOfMemory, "out of host memory");
  } catch (const std::exception& e) {
    return Status(ErrorCode::kInternal, e.what());
  }
}

[[noreturn]] void throw_error(ErrorCode code, const std::string& message);

}  // namespace wan22

// Checks an invariant; throws wan22::Error(kInvalidArgument) with file:line and the message.
#define WAN22_CHECK(cond, msg)                                                              \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      ::wan22::throw_error(::wan22::ErrorCode::kInvalidArgument,                            \
                           std::string(msg) + " [" #cond " at " __FILE__ ":" +              \
                               std::to_string(__LINE__) + "]");                             \
    }                                                                                       \
  } while (0)
