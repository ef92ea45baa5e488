// wan22 monitor: live GPU / CPU / RAM / disk / temperature view with alerts and JSON-lines export.
#include "perf/monitor.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "cli/command.h"
#include "config/cli_options.h"
#include "config/settings.h"
#include "core/status.h"

namespace wan22::cli {
namespace {

const char* kHelp =
    "usage: wan22 monitor [--once] [--interval S] [--count N] [--duration S] [--json] [--jsonl "
    "FILE]\n"
    "                     [--path P]... [--plain] [--no-gpu] [--root DIR] [--config FILE] [--set "
    "KEY=VALUE]\n"
    "\n"
    "Samples GPUs (NVML: utilisation, VRAM, temperature, power, clocks, throttle reasons), CPU "
    "load\n"
    "per core, CPU temperatures (hwmon, thermal zones), RAM, disk I/O and the free space of the\n"
    "model, output and temp directories, and shows them as a block redrawn every interval (plain\n"
    "blocks when the output is not a terminal). Alerts (thermal throttling, temperature over the\n"
    "thermal_management targets, memory near its limit, low storage) are raised once and cleared\n"
    "when the value is back. Without a GPU or NVML it says what it cannot see and shows the rest.\n"
    "Runs until interrupted unless --once, --count or --duration is given. docs/monitoring.md.\n"
    "\n"
    "  --once          one sample (rates over a short first interval), then exit\n"
    "  --interval S    seconds between samples (default: performance_monitoring.metrics_interval)\n"
    "  --count N       stop after N samples\n"
    "  --duration S    stop after S seconds\n"
    "  --json          JSON instead of text: --once prints one indented object, otherwise one "
    "line\n"
    "                  per sample (JSON-lines)\n"
    "  --jsonl FILE    also append every sample to FILE, one JSON object per line\n"
    "  --path P        watch the free space of P (repeatable; replaces the default paths)\n"
    "  --plain         plain blocks even on a terminal\n"
    "  --no-gpu        do not load NVML\n"
    "  --root DIR      read /proc and /sys below DIR (tests on fake trees)\n";
const char* kEnvHelp =
    "\nEnvironment: WAN22_NVML_LIBRARY=PATH loads that NVML library instead of "
    "libnvidia-ml.so.1.\n";

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

double parse_seconds(const std::string& opt, const std::string& v, double lo) {
  try {
    size_t used = 0;
    const double d = std::stod(v, &used);
    if (used == v.size() && d >= lo && d <= 1e7) return d;
  } catch (const std::exception&) {
  }
  throw Error(ErrorCode::kInvalidArgument, "monitor: " + opt + " needs a number of seconds >= " +
                                               std::to_string(lo) + ", got '" + v + "'");
}

long parse_count(const std::string& v) {
  try {
    size_t used = 0;
    const long n = std::stol(v, &used);
    if (used == v.size() && n >= 1) return n;
  } catch (const std::exception&) {
  }
  throw Error(ErrorCode::kInvalidArgument,
              "monitor: --count needs a whole number >= 1, got '" + v + "'");
}

// Sleeps until `deadline` (steady clock) in short slices; false when interrupted.
bool sleep_until(std::chrono::steady_clock::time_point deadline) {
  while (!g_stop) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        deadline - now, std::chrono::milliseconds(50)));
  }
  return false;
}

// Terminal rows the text takes (long lines wrap at the terminal's width).
size_t count_rows(const std::string& s, size_t width) {
  size_t rows = 0, col = 0;
  for (char c : s) {
    if (c == '\n') {
      rows += width ? std::max<size_t>(1, (col + width - 1) / width) : 1;
      col = 0;
    } else if ((static_cast<unsigned char>(c) & 0xC0) !=
               0x80) {  // count UTF-8 characters, not bytes
      ++col;
    }
  }
  return rows;
}

size_t terminal_width() {
  struct winsize ws {};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 0;
}

int run_monitor(int argc, char** argv) {
  config::ConfigOptions copt;
  bool once = false, json = false, plain = false, no_gpu = false;
  std::string interval_text, jsonl, root = "/";
  double duration = -1;
  long count = -1;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (config::take_config_option(argc, argv, i, copt)) continue;
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        throw Error(ErrorCode::kInvalidArgument, "monitor: " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::printf("%s%s%s", kHelp, config::config_options_help(), kEnvHelp);
      return 0;
    } else if (a == "--once") {
      once = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--plain") {
      plain = true;
    } else if (a == "--no-gpu") {
      no_gpu = true;
    } else if (a == "--interval") {
      interval_text = value();
    } else if (a == "--duration") {
      duration = parse_seconds(a, value(), 0);
    } else if (a == "--count") {
      count = parse_count(value());
    } else if (a == "--jsonl") {
      jsonl = value();
    } else if (a == "--path") {
      paths.push_back(value());
    } else if (a == "--root") {
      root = value();
    } else {
      return fail("monitor: unknown option '" + a + "' (see wan22 monitor --help)");
    }
  }
  config::Settings settings = config::load_settings(copt);
  if (!interval_text.empty())
    settings.set_cli("performance_monitoring.metrics_interval", interval_text, "--interval");
  if (once) count = 1;

  perf::MonitorOptions o = perf::monitor_options(settings);
  o.enabled = true;  // the command is the monitor; the key governs background monitoring
  o.root = root;
  o.log_alerts = false;
  o.jsonl_path = jsonl;
  if (!paths.empty()) o.paths = paths;
  if (no_gpu) {
    o.gpu = perf::make_no_gpu_provider("GPU monitoring off (--no-gpu)");
  } else if (const char* lib = std::getenv("WAN22_NVML_LIBRARY"); lib && *lib) {
    o.gpu = perf::make_nvml_provider(lib);  // another NVML build (tests load a fake one)
  }
  const double interval = o.interval_s;
  perf::Monitor mon(o);
  if (!mon.export_error().empty()) return fail("monitor: " + mon.export_error());

  std::vector<std::string> events;
  mon.on_alert([&events](const perf::AlertEvent& e) { events.push_back("alert " + e.str()); });

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const bool tty = !plain && !json && isatty(STDOUT_FILENO);

  if (!json) {
    std::printf("wan22 monitor: every %g s%s; GPU: %s\n", interval,
                count > 0 ? (", " + std::to_string(count) + " sample(s)").c_str() : "",
                mon.gpu_status().c_str());
    if (mon.gpu_status().rfind("ok", 0) != 0)
      std::printf(
          "  (no GPU metrics: utilisation, VRAM, GPU temperature, power, clocks and throttle "
          "reasons are not visible)\n");
    std::fflush(stdout);
  }

  // A first reading primes the CPU and disk counters; the first sample follows shortly after it.
  mon.prime();
  const auto start = std::chrono::steady_clock::now();
  const double first_gap = std::min(interval, 0.25);
  size_t drawn = 0;
  for (long k = 0; count < 0 || k < count; ++k) {
    const double at = first_gap + static_cast<double>(k) * interval;
    if (duration >= 0 && k > 0 && at > duration) break;
    if (!sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(at))))
      break;
    perf::MonitorSample s = mon.sample_now();
    if (json) {
      if (once)
        std::printf(
            "%s\n",
            perf::to_json(s).dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      else
        std::fputs(perf::to_jsonl(s).c_str(), stdout);
    } else {
      std::string block;
      for (const auto& e : events) block += e + "\n";
      block += perf::to_text(s);
      if (tty && drawn > 0) std::printf("\x1b[%zuA\x1b[J", drawn);
      std::fputs(tty ? block.c_str() : (block + "\n").c_str(), stdout);
      drawn = count_rows(block, terminal_width());
    }
    events.clear();
    std::fflush(stdout);
    if (!mon.export_error().empty()) return fail("monitor: " + mon.export_error());
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  return 0;
}

const CommandRegistrar kReg({"monitor",
                             "live GPU/CPU/RAM/disk metrics, alerts and JSON-lines export",
                             run_monitor});

}  // namespace
}  // namespace wan22::cli
