// Progress reporting: a redrawn bar with step rate and ETA on a terminal, plain lines otherwise.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

namespace wan22::pipeline {

class ProgressBar {
 public:
  // `out` is usually stderr; `force_plain` disables the redrawn bar (also when out is not a TTY).
  ProgressBar(std::string label, int total, std::FILE* out = stderr, bool force_plain = false);
  void update(int done);  // steps completed so far
  void finish();
  double elapsed_s() const;

 private:
  std::string label_;
  int total_;
  std::FILE* out_;
  bool tty_;
  bool finished_ = false;
  int last_plain_ = -1;
  std::chrono::steady_clock::time_point start_;
};

// "1m23s" / "4.5s"
std::string format_duration(double seconds);

}  // namespace wan22::pipeline
