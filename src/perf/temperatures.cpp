// CPU/board temperatures: /sys/class/hwmon/*/temp*_input and /sys/class/thermal/thermal_zone*/temp.
#include "perf/sysfs_read.h"
#include "perf/sysinfo.h"

namespace wan22::perf {
namespace {

// Millidegrees Celsius -> Celsius; implausible readings (below absolute zero, above 250 C) unknown.
Known<double> millidegrees(const Known<std::string>& text, const std::string& file) {
  if (!text.known()) return Known<double>::unknown(text.why);
  auto v = parse_i64(*text.value);
  if (!v) return Known<double>::unknown("unreadable " + file + ": '" + trim(text.value->substr(0, 40)) + "'");
  const double c = static_cast<double>(*v) / 1000.0;
  if (c < -273.15 || c > 250.0)
    return Known<double>::unknown("implausible reading in " + file + ": " + std::to_string(*v) + " m°C");
  return Known<double>::of(c);
}

std::string first_line(const Known<std::string>& t, const std::string& fallback) {
  if (!t.known()) return fallback;
  std::string s = trim(t.value->substr(0, t.value->find('\n')));
  return s.empty() ? fallback : s;
}

}  // namespace

std::vector<Temperature> collect_temperatures(const std::string& root) {
  std::vector<Temperature> out;
  const std::string hwmon = "/sys/class/hwmon";
  for (const auto& dev : list_dir(root, hwmon)) {
    if (!numbered(dev, "hwmon")) continue;
    const std::string dir = hwmon + "/" + dev;
    const std::string chip = first_line(read_text(root, dir + "/name"), dev);
    for (const auto& f : list_dir(root, dir)) {
      if (!f.starts_with("temp") || !f.ends_with("_input")) continue;
      const std::string stem = f.substr(0, f.size() - 6);  // tempN
      if (!numbered(stem, "temp")) continue;
      Temperature t;
      t.source = "hwmon";
      t.chip = chip;
      t.sensor = first_line(read_text(root, dir + "/" + stem + "_label"), stem);
      t.celsius = millidegrees(read_text(root, dir + "/" + f), dir + "/" + f);
      out.push_back(std::move(t));
    }
  }
  const std::string thermal = "/sys/class/thermal";
  for (const auto& zone : list_dir(root, thermal)) {
    if (!numbered(zone, "thermal_zone")) continue;
    const std::string dir = thermal + "/" + zone;
    Temperature t;
    t.source = "thermal";
    t.chip = first_line(read_text(root, dir + "/type"), "unknown");
    t.sensor = zone;
    t.celsius = millidegrees(read_text(root, dir + "/temp"), dir + "/temp");
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace wan22::perf
