#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace wan22 {
namespace {
LogLevel initial_level() {
  LogLevel l = LogLevel::kInfo;
  if (const char* e = std::getenv("WAN22_LOG")) parse_log_level(e, &l);
  return l;
}
std::atomic<LogLevel>& level_ref() {
  static std::atomic<LogLevel> level{initial_level()};
  return level;
}
std::mutex g_log_mutex;
}  // namespace

void set_log_level(LogLevel level) { level_ref().store(level); }
LogLevel log_level() { return level_ref().load(); }

bool parse_log_level(const std::string& s, LogLevel* out) {
  if (s == "debug") *out = LogLevel::kDebug;
  else if (s == "info") *out = LogLevel::kInfo;
  else if (s == "warn" || s == "warning") *out = LogLevel::kWarn;
  else if (s == "error") *out = LogLevel::kError;
  else if (s == "off" || s == "quiet") *out = LogLevel::kOff;
  else return false;
  return true;
}

void log_message(LogLevel level, const std::string& msg) {
  static const char* kNames[] = {"debug", "info", "warn", "error"};
  static const auto t0 = std::chrono::steady_clock::now();
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::fprintf(stderr, "[%8.3f %s] %s\n", t, kNames[static_cast<int>(level)], msg.c_str());
}

}  // namespace wan22
