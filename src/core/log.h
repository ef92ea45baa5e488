// Levelled logging to stderr. Level from set_log_level() or WAN22_LOG=debug|info|warn|error.
#pragma once
#include <sstream>
#include <string>

namespace wan22 {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
bool parse_log_level(const std::string& s, LogLevel* out);
void log_message(LogLevel level, const std::string& msg);

namespace detail {
class LogLine {
 public:
  explicit LogLine(LogLevel l) : level_(l) {}
  ~LogLine() { log_message(level_, ss_.str()); }
  template <class T>
  LogLine& operator<<(const T& v) {
    ss_ << v;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream ss_;
};
struct Voidify {
  void operator&(const LogLine&) {}
};
}  // namespace detail

}  // namespace wan22

#define WAN22_LOG(level)                                            \
  (::wan22::LogLevel::level < ::wan22::log_level())                 \
      ? (void)0                                                     \
      : ::wan22::detail::Voidify() & ::wan22::detail::LogLine(::wan22::LogLevel::level)
#define LOG_DEBUG WAN22_LOG(kDebug)
#define LOG_INFO WAN22_LOG(kInfo)
#define LOG_WARN WAN22_LOG(kWarn)
#define LOG_ERROR WAN22_LOG(kError)
