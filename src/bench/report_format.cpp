// Number formatting and the comparison warnings shared by every report renderer.
#include <cmath>
#include <cstdio>

#include "bench/report.h"

namespace wan22::bench {

std::string format_value(double v, const std::string& unit) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  if (unit == "s") {
    const double a = std::fabs(v);
    if (a != 0 && a < 1e-3)
      std::snprintf(buf, sizeof(buf), "%.1f us", v * 1e6);
    else if (a != 0 && a < 1)
      std::snprintf(buf, sizeof(buf), "%.1f ms", v * 1e3);
    else
      std::snprintf(buf, sizeof(buf), "%.4g s", v);
    return buf;
  }
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return unit.empty() ? std::string(buf) : std::string(buf) + " " + unit;
}

std::string format_percent(double frac, bool sign) {
  if (!std::isfinite(frac)) return frac > 0 ? "+inf%" : frac < 0 ? "-inf%" : "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), sign ? "%+.1f%%" : "%.1f%%", 100.0 * frac);
  return buf;
}

std::vector<std::string> comparison_warnings(const RunRecord& cur, const RunRecord& base) {
  std::vector<std::string> w;
  if (cur.machine.fingerprint() != base.machine.fingerprint()) {
    w.push_back("the baseline ran on another machine (" + base.machine.cpu +
                (base.machine.gpu.empty() ? "" : ", " + base.machine.gpu) +
                "): differences include the hardware");
  }
  if (cur.suite != base.suite)
    w.push_back("the baseline ran suite " + base.suite + ", this run " + cur.suite);
  if (cur.device != base.device)
    w.push_back("the baseline ran on " + base.device + ", this run on " + cur.device);
  if (cur.model != base.model)
    w.push_back("the baseline used model " + base.model + ", this run " + cur.model);
  if (cur.threads != base.threads) {
    w.push_back("the baseline ran with " + std::to_string(base.threads) +
                " CPU threads, this run with " + std::to_string(cur.threads));
  }
  return w;
}

}  // namespace wan22::bench
