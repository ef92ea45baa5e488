#!/usr/bin/env bash
# wan22 monitor on this machine: --once (text and --json), --count 2 --interval 0.2 --jsonl FILE,
# --duration, SIGINT; without a GPU it says so and exits 0; fake /proc + /sys trees (empty,
# garbage) never crash it; bad options fail with a message.
# usage: monitor_cli.sh <wan22> <source-dir>
set -uo pipefail
W=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d) || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT

# --- one sample, text ---
"$W" monitor --once > "$tmp/once.txt" 2> "$tmp/once.err" || { cat "$tmp/once.err"; fail "--once exited $?"; }
cat "$tmp/once.txt"
for head in "wan22 monitor: every" "sample 0" "CPU " "RAM " "alerts\|ALERT"; do
  grep -q "^\($head\)" "$tmp/once.txt" || fail "--once output lacks a line starting with '$head'"
done
grep -q "^GPU" "$tmp/once.txt" || fail "no GPU line"

# --- one sample, JSON: every documented key; no GPU -> says why ---
"$W" monitor --once --json > "$tmp/once.json" || fail "--once --json exited $?"
python3 - "$tmp/once.json" "$tmp/once.txt" <<'PY' || fail "--once --json check"
import json, sys
j = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
for k in ("seq", "t_s", "interval_s", "unix_ms", "gpu_status", "gpus", "cpu", "temperatures", "memory",
          "disks", "paths", "generation", "alerts"):
    assert k in j, "missing key " + k
assert j["memory"]["total_bytes"] > 0, j["memory"]
assert isinstance(j["cpu"]["util"], float) and 0 <= j["cpu"]["util"] <= 1, j["cpu"]
assert len(j["cpu"]["cores"]) >= 1, j["cpu"]
assert j["paths"] and all("free_bytes" in p for p in j["paths"]), j["paths"]
if not j["gpus"]:
    assert j["gpu_status"], "no GPU and no reason"
    assert "GPU    none visible: " in text, "text does not say the GPU is not visible"
    assert "no GPU metrics" in text, "text does not say which metrics are missing"
    print("no GPU here:", j["gpu_status"])
else:
    g = j["gpus"][0]
    for k in ("util_pct", "vram_used_bytes", "vram_total_bytes", "temp_c", "power_w", "clock_sm_mhz",
              "clock_mem_mhz", "throttle_mask", "throttle_reasons"):
        assert k in g, "gpu lacks " + k
    print("GPU:", g["name"], g["temp_c"], "C")
PY

# --- two samples 0.2 s apart with JSON-lines export ---
start=$(date +%s.%N)
"$W" monitor --count 2 --interval 0.2 --jsonl "$tmp/f.jsonl" --plain > "$tmp/two.txt" || fail "--count 2 exited $?"
end=$(date +%s.%N)
[ "$(grep -c '^sample ' "$tmp/two.txt")" -eq 2 ] || { cat "$tmp/two.txt"; fail "expected 2 sample blocks"; }
python3 - "$tmp/f.jsonl" "$start" "$end" <<'PY' || fail "JSON-lines check"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 2, "expected 2 lines, got %d" % len(lines)
s = [json.loads(l) for l in lines]
assert [x["seq"] for x in s] == [0, 1], [x["seq"] for x in s]
dt = s[1]["t_s"] - s[0]["t_s"]
assert 0.15 <= dt <= 1.5, "samples %.3f s apart, wanted about 0.2" % dt
assert 0.15 <= s[1]["interval_s"] <= 1.5, s[1]["interval_s"]
assert s[1]["cpu"]["util"] is not None, s[1]["cpu"]
assert s[1]["disks"] is not None or "disks" in s[1].get("unknown", {}), s[1]
wall = float(sys.argv[3]) - float(sys.argv[2])
assert wall < 10, "took %.1f s" % wall
print("jsonl ok: %d samples %.3f s apart" % (len(s), dt))
PY
# Appends, never truncates.
"$W" monitor --once --jsonl "$tmp/f.jsonl" > /dev/null || fail "second --jsonl run exited $?"
[ "$(wc -l < "$tmp/f.jsonl")" -eq 3 ] || fail "--jsonl did not append"

# --- JSON-lines on stdout, --duration ---
"$W" monitor --json --interval 0.2 --duration 0.5 > "$tmp/dur.jsonl" || fail "--duration exited $?"
n=$(wc -l < "$tmp/dur.jsonl")
[ "$n" -ge 1 ] && [ "$n" -le 3 ] || fail "--duration 0.5 --interval 0.2 gave $n samples"
python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$tmp/dur.jsonl" || fail "stdout JSON-lines"

# --- runs until interrupted; SIGINT ends it cleanly ---
"$W" monitor --interval 0.2 --plain > "$tmp/int.txt" &
pid=$!
sleep 1.5
kill -INT "$pid"
wait "$pid" || fail "SIGINT: exit status $?"
[ "$(grep -c '^sample ' "$tmp/int.txt")" -ge 2 ] || fail "no samples before SIGINT"

# --- fake trees: nothing readable, garbage everywhere ---
mkdir -p "$tmp/empty"
"$W" monitor --once --no-gpu --root "$tmp/empty" --path "$tmp/no/such/dir" > "$tmp/empty.txt" ||
  fail "empty tree exited $?"
grep -q "GPU    none visible: GPU monitoring off (--no-gpu)" "$tmp/empty.txt" || fail "no-gpu not said"
grep -q "^RAM    unknown (no /proc/meminfo)" "$tmp/empty.txt" || { cat "$tmp/empty.txt"; fail "RAM reason"; }
g="$tmp/garbage"
mkdir -p "$g/proc" "$g/sys/class/hwmon/hwmon0" "$g/sys/class/thermal/thermal_zone0" "$g/sys/block/sda"
for f in proc/stat proc/meminfo proc/diskstats sys/class/hwmon/hwmon0/name sys/class/hwmon/hwmon0/temp1_input \
         sys/class/thermal/thermal_zone0/type sys/class/thermal/thermal_zone0/temp sys/block/sda/dev; do
  printf 'cpu x y z\n\377\376 -1 99999999999999999999999999\n8 0 sda 1 2\0garbage' > "$g/$f"
done
mkdir -p "$g/sys/class/hwmon/hwmon0/temp2_input"
"$W" monitor --count 2 --interval 0.1 --no-gpu --root "$g" --json > "$tmp/garbage.jsonl" || fail "garbage tree exited $?"
python3 - "$tmp/garbage.jsonl" <<'PY' || fail "garbage JSON check"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])]
assert len(s) == 2
assert s[1]["cpu"]["util"] is None and s[1]["cpu"]["unknown"]["util"], s[1]["cpu"]
assert s[1]["memory"]["total_bytes"] is None, s[1]["memory"]
PY

# --- a fake NVML library (when a C compiler is here): every NVML field, thermal alerts ---
CC=$(command -v cc || command -v gcc || true)
if [ -n "$CC" ]; then
  cat > "$tmp/fake_nvml.c" <<'C'
/* Fake libnvidia-ml: one GPU, 91 C with SW power cap + HW thermal slowdown; power usage refused. */
#include <string.h>
typedef struct { unsigned long long total, free, used; } mem_t;
typedef struct { unsigned int gpu, memory; } util_t;
static int dev;
int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
const char* nvmlErrorString(int rc) { return rc == 3 ? "Not Supported" : "Unknown Error"; }
int nvmlDeviceGetCount_v2(unsigned* n) { *n = 1; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void** d) { *d = &dev; return i == 0 ? 0 : 2; }
int nvmlDeviceGetName(void* d, char* b, unsigned n) { (void)d; strncpy(b, "Fake NVML GPU", n); return 0; }
int nvmlDeviceGetMemoryInfo(void* d, mem_t* m) { (void)d; m->total = 80ull << 30; m->used = 78ull << 30; m->free = 2ull << 30; return 0; }
int nvmlSystemGetDriverVersion(char* b, unsigned n) { strncpy(b, "999.1", n); return 0; }
int nvmlDeviceGetTemperature(void* d, int s, unsigned* t) { (void)d; *t = 91; return s == 0 ? 0 : 2; }
int nvmlDeviceGetTemperatureThreshold(void* d, int k, unsigned* t) { (void)d; *t = 87; return k == 1 ? 0 : 2; }
int nvmlDeviceGetPowerManagementLimit(void* d, unsigned* mw) { (void)d; *mw = 700000; return 0; }
int nvmlDeviceGetPowerUsage(void* d, unsigned* mw) { (void)d; (void)mw; return 3; }
int nvmlDeviceGetCurrPcieLinkGeneration(void* d, unsigned* v) { (void)d; *v = 5; return 0; }
int nvmlDeviceGetCurrPcieLinkWidth(void* d, unsigned* v) { (void)d; *v = 16; return 0; }
int nvmlDeviceGetCudaComputeCapability(void* d, int* a, int* b) { (void)d; *a = 9; *b = 0; return 0; }
int nvmlDeviceGetUtilizationRates(void* d, util_t* u) { (void)d; u->gpu = 99; u->memory = 55; return 0; }
int nvmlDeviceGetClockInfo(void* d, int k, unsigned* v) { (void)d; *v = k == 2 ? 3201 : 1755; return 0; }
int nvmlDeviceGetCurrentClocksThrottleReasons(void* d, unsigned long long* r) { (void)d; *r = 0x44; return 0; }
C
  "$CC" -shared -fPIC -o "$tmp/libfake_nvml.so" "$tmp/fake_nvml.c" || fail "cannot build the fake NVML"
  WAN22_NVML_LIBRARY="$tmp/libfake_nvml.so" "$W" monitor --once --json > "$tmp/nvml.json" || fail "fake NVML run exited $?"
  WAN22_NVML_LIBRARY="$tmp/libfake_nvml.so" "$W" monitor --once --plain > "$tmp/nvml.txt" || fail "fake NVML text exited $?"
  cat "$tmp/nvml.txt"
  python3 - "$tmp/nvml.json" "$tmp/nvml.txt" <<'PY' || fail "fake NVML check"
import json, sys
j = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
assert j["gpu_status"] == "ok: 1 GPU(s) via NVML", j["gpu_status"]
g = j["gpus"][0]
want = {"index": 0, "name": "Fake NVML GPU", "util_pct": 99, "mem_util_pct": 55, "vram_used_bytes": 78 << 30,
        "vram_total_bytes": 80 << 30, "temp_c": 91.0, "slowdown_temp_c": 87.0, "power_w": None,
        "power_limit_w": 700.0, "clock_sm_mhz": 1755, "clock_mem_mhz": 3201, "clock_graphics_mhz": 1755,
        "throttle_mask": 0x44, "throttle_reasons": ["sw_power_cap", "hw_thermal_slowdown"]}
for k, v in want.items():
    assert g[k] == v, "%s: %r != %r" % (k, g[k], v)
assert g["unknown"]["power_w"] == "nvmlDeviceGetPowerUsage failed: Not Supported", g["unknown"]
alerts = " | ".join(j["alerts"])
for a in ("GPU 0 thermal throttling (hw_thermal_slowdown) at 91 C", "GPU 0 at 91 C > target 80 C", "GPU 0 VRAM 98% used"):
    assert a in alerts, "missing alert '%s' in %s" % (a, alerts)
assert "GPU 0  Fake NVML GPU: util 99%  VRAM 78.0/80.0 GiB (98%)  91 C  ?/700 W  SM 1755 MHz  mem 3201 MHz  throttle: sw_power_cap,hw_thermal_slowdown" in text, text
assert "alert raised: GPU 0 thermal throttling" in text, text
print("fake NVML ok")
PY
else
  echo "no C compiler: fake NVML part skipped"
fi

# --- bad options ---
"$W" monitor --bogus 2> "$tmp/err" && fail "unknown option accepted"
grep -q "unknown option" "$tmp/err" || fail "no message for an unknown option"
"$W" monitor --count 0 2> "$tmp/err" && fail "--count 0 accepted"
grep -q -- "--count" "$tmp/err" || fail "no message for --count 0"
"$W" monitor --once --interval 0.01 2> "$tmp/err" && fail "--interval 0.01 accepted"
grep -q "metrics_interval" "$tmp/err" || { cat "$tmp/err"; fail "--interval error does not name the key"; }
"$W" monitor --once --jsonl "$tmp/no/such/dir/f.jsonl" 2> "$tmp/err" && fail "unwritable --jsonl accepted"
grep -q "cannot open" "$tmp/err" || fail "no message for an unwritable --jsonl"
"$W" monitor --help | grep -q "usage: wan22 monitor" || fail "no --help"
"$W" --help | grep -q "monitor" || fail "monitor not in wan22 --help"
echo "ok"
