#include "pipeline/progress.h"

#include <unistd.h>

#include <cmath>

namespace wan22::pipeline {

std::string format_duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) % 3600) / 60);
  }
  return buf;
}

ProgressBar::ProgressBar(std::string label, int total, std::FILE* out, bool force_plain)
    : label_(std::move(label)), total_(total), out_(out), start_(std::chrono::steady_clock::now()) {
  tty_ = !force_plain && out_ && isatty(fileno(out_));
}

double ProgressBar::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::update(int done) {
  if (!out_ || total_ <= 0) return;
  double el = elapsed_s();
  double rate = done > 0 ? done / el : 0.0;
  double eta = done > 0 ? (total_ - done) / rate : NAN;
  if (tty_) {
    const int width = 30;
    int fill = static_cast<int>(std::lround(width * static_cast<double>(done) / total_));
    std::string bar(static_cast<size_t>(fill), '#');
    bar.resize(width, '.');
    std::fprintf(out_, "\r%s [%s] %d/%d  %.2f step/s  %s/step  ETA %s   ", label_.c_str(), bar.c_str(), done,
                 total_, rate, done > 0 ? format_duration(el / done).c_str() : "?", format_duration(eta).c_str());
    std::fflush(out_);
  } else if (done != last_plain_) {
    last_plain_ = done;
    std::fprintf(out_, "%s: step %d/%d, %.3f step/s, elapsed %s, ETA %s\n", label_.c_str(), done, total_, rate,
                 format_duration(el).c_str(), format_duration(eta).c_str());
    std::fflush(out_);
  }
}

void ProgressBar::finish() {
  if (finished_ || !out_) return;
  finished_ = true;
  if (tty_) std::fprintf(out_, "\n");
  std::fprintf(out_, "%s: done in %s\n", label_.c_str(), format_duration(elapsed_s()).c_str());
  std::fflush(out_);
}

}  // namespace wan22::pipeline
