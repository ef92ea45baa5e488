#!/usr/bin/env bash
# wan22 sysinfo on this machine: text and --json work, the JSON has the documented keys and
# cpu.logical_cores >= 1; the fake garbage sysfs tree never crashes it; bad options fail.
# usage: sysinfo.sh <wan22> <source-dir>
set -uo pipefail
W=$1
SRC=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d) || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT

"$W" sysinfo > "$tmp/text" || fail "sysinfo exited $?"
cat "$tmp/text"
for section in CPU NUMA Memory Temperatures GPUs Disks; do
  grep -q "^$section" "$tmp/text" || fail "text output lacks section $section"
done

"$W" sysinfo --json --path "$SRC" > "$tmp/live.json" || fail "sysinfo --json exited $?"
python3 - "$tmp/live.json" "$SRC" <<'PY' || fail "live JSON check"
import json, sys
j = json.load(open(sys.argv[1]))
for k in ("cpu", "numa", "memory", "gpus", "gpu_status", "disks", "temperatures"):
    assert k in j, "missing key " + k
for k in ("model", "logical_cores", "physical_cores"):
    assert k in j["cpu"], "missing cpu." + k
assert isinstance(j["cpu"]["logical_cores"], int) and j["cpu"]["logical_cores"] >= 1, j["cpu"]
assert isinstance(j["numa"], list) and isinstance(j["gpus"], list) and isinstance(j["disks"], list)
for n in j["numa"]:
    assert {"node", "cpus", "memory_bytes"} <= n.keys(), n
assert {"total_bytes", "available_bytes"} <= j["memory"].keys()
assert j["memory"]["total_bytes"] > 0, j["memory"]
assert j["gpus"] or j["gpu_status"], "empty gpus without gpu_status"
assert len(j["disks"]) == 1 and j["disks"][0]["path"] == sys.argv[2], j["disks"]
assert j["disks"][0]["free_bytes"] is not None, j["disks"][0]
print("live JSON ok: %d logical cores, %d gpus (%s)" % (j["cpu"]["logical_cores"], len(j["gpus"]), j["gpu_status"]))
PY

"$W" sysinfo --json --no-gpu --root "$SRC/tests/data/sysfs/garbage" --path / > "$tmp/garbage.json" ||
  fail "sysinfo on the garbage tree exited $?"
python3 - "$tmp/garbage.json" <<'PY' || fail "garbage JSON check"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["cpu"]["logical_cores"] is None and "logical_cores" in j["cpu"]["unknown"], j["cpu"]
assert j["numa"][0]["cpus"] == [0, 1, 2, 3, 8, 10, 11], j["numa"][0]
assert j["numa"][1]["cpus"] is None, j["numa"][1]
PY
"$W" sysinfo --root "$SRC/tests/data/sysfs/missing" --no-gpu > /dev/null || fail "sysinfo on the empty tree exited $?"

"$W" sysinfo --bogus 2> "$tmp/err" && fail "unknown option accepted"
grep -q "unknown option" "$tmp/err" || fail "no message for an unknown option"
"$W" sysinfo --path 2> /dev/null && fail "--path without a value accepted"
echo "ok"
