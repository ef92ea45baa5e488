#!/usr/bin/env bash
# wan22 config validate: the guide's merged snippets and the example pass (exit 0, "OK"); a bad file
# exits non-zero with one line per problem naming the key path; a syntax error gives line:column.
set -u
WAN22="$1"; SRC="$2"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

out="$("$WAN22" config validate "$SRC/configs/guide-verbatim.json" 2>&1)" || fail "guide-verbatim.json rejected: $out"
grep -q "guide-verbatim.json: OK" <<<"$out" || fail "no OK line: $out"
grep -q "cpu_offload.safety_checker" <<<"$out" || fail "safety_checker not reported as not applicable: $out"
grep -q "not applicable: Wan2.2 has no safety checker" <<<"$out" || fail "no reason for safety_checker: $out"

out="$("$WAN22" config validate "$SRC/configs/example.json" 2>&1)" || fail "example.json rejected: $out"
grep -q "example.json: OK" <<<"$out" || fail "no OK line for example.json: $out"

cat > "$T/bad.json" <<'JSON'
{
  // a comment with a URL: https://example.com//x
  "memory_pool": { "enabled": true, "fragmentation_threshold": 1.5 },
  "cpu_offload": { "text_encoder": "yes" },
  "tile_optimization": { "vae_tile_sise": [256, 256] }
}
JSON
out="$("$WAN22" config validate "$T/bad.json" 2>&1)"; rc=$?
[ $rc -ne 0 ] || fail "bad file accepted (exit 0): $out"
grep -q "bad.json: memory_pool.fragmentation_threshold: .*out of range.*\[0, 1\]" <<<"$out" || fail "range problem: $out"
grep -q "bad.json: cpu_offload.text_encoder: expected true or false" <<<"$out" || fail "type problem: $out"
grep -q "bad.json: tile_optimization.vae_tile_sise: unknown key (did you mean \"vae_tile_size\"" <<<"$out" || fail "unknown key: $out"
grep -q "INVALID (3 problems)" <<<"$out" || fail "not every problem reported: $out"

printf '{\n  "memory_pool": {\n    "enabled": true\n    "pool_size_gb": 3\n  }\n}\n' > "$T/syntax.json"
out="$("$WAN22" config validate "$T/syntax.json" 2>&1)" && fail "syntax error accepted: $out"
grep -q "syntax.json:4:5: syntax error" <<<"$out" || fail "no line:column: $out"

out="$("$WAN22" config validate "$T/missing.json" 2>&1)" && fail "missing file accepted: $out"
grep -q "missing.json" <<<"$out" || fail "missing file not named: $out"

# Several files: one bad one makes the exit non-zero, the good one still says OK.
out="$("$WAN22" config validate "$SRC/configs/guide-verbatim.json" "$T/bad.json" 2>&1)" && fail "mixed files accepted"
grep -q "guide-verbatim.json: OK" <<<"$out" || fail "good file not reported OK among several: $out"

"$WAN22" config validate --help | grep -q "usage: wan22 config validate" || fail "no --help"
"$WAN22" config validate >/dev/null 2>&1 && fail "no FILE accepted"
echo PASS
