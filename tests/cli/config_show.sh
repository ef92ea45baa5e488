#!/usr/bin/env bash
# wan22 config show: every effective setting with its source (default < file < cli) and status.
set -u
WAN22="$1"; SRC="$2"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$T/c.json" <<'JSON'
{ "generation": { "steps": 30, "fps": 16 }, "rtx4080_optimizations": { "mixed_precision": "fp16" } }
JSON
out="$("$WAN22" config show --config "$T/c.json" --set generation.steps=12 2>&1)" || fail "show failed: $out"
grep -Eq "^generation.steps = 12 +\[cli\]" <<<"$out" || fail "cli did not win over the file: $out"
grep -Eq "^generation.fps = 16 +\[file:$T/c.json\]" <<<"$out" || fail "file value/source: $out"
grep -Eq "^generation.frames = 121 +\[default\]" <<<"$out" || fail "default value/source: $out"
grep -Eq "^gpu_optimizations.mixed_precision = \"fp16\" +\[file:" <<<"$out" || fail "alias section: $out"
grep -Eq "^cpu_optimization.max_workers = 0 +\[default\] +applied: core/thread_pool" <<<"$out" || fail "status column: $out"
grep -q "not applicable: Wan2.2 has no safety checker" <<<"$out" || fail "not-applicable status: $out"
n=$(grep -Ec "^[a-z0-9_]+\.[a-z0-9_.]+ = " <<<"$out")
[ "$n" -ge 80 ] || fail "only $n settings listed"

out="$("$WAN22" config show --changed --json --config "$T/c.json" --set memory_pool.pool_size_gb=4 2>&1)" || fail "json: $out"
printf '%s' "$out" > "$T/show.json"
if command -v python3 >/dev/null; then
  python3 - "$T/c.json" "$T/show.json" <<'PY' || fail "json content: $out"
import json, sys
d = json.load(open(sys.argv[2]))
s = d["settings"]
assert s["memory_pool.pool_size_gb"]["source"] == "cli", s
assert s["generation.steps"]["value"] == 30 and s["generation.steps"]["source"] == "file:" + sys.argv[1], s
assert "generation.frames" not in s, "--changed listed a default"
assert any(n["key"] == "memory_pool.pool_size_gb" for n in d["not_applied"]), d["not_applied"]
assert d["effective"]["generation"]["steps"] == 30
PY
else
  grep -q '"source": "cli"' "$T/show.json" || fail "json: no cli source: $out"
fi

out="$("$WAN22" config show --set memory_pool.fragmentation_threshold=2 2>&1)" && fail "bad --set accepted: $out"
grep -q "memory_pool.fragmentation_threshold" <<<"$out" || fail "bad --set not named: $out"
out="$("$WAN22" config show --set no_such.key=1 2>&1)" && fail "unknown --set key accepted: $out"
grep -q "no_such.key" <<<"$out" || fail "unknown key not named: $out"
out="$("$WAN22" config show --config "$T/missing.json" 2>&1)" && fail "missing --config accepted: $out"
"$WAN22" config show --help | grep -q -- "--config FILE" || fail "no --help"
echo PASS
