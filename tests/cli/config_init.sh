#!/usr/bin/env bash
# wan22 config init: a commented config with every default that validates; configs/example.json is
# exactly its output; no overwrite without --force.
set -u
WAN22="$1"; SRC="$2"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$WAN22" config init "$T/c.json" >/dev/null || fail "init failed"
grep -q '^ *// ' "$T/c.json" || fail "no comments in the written config"
out="$("$WAN22" config validate "$T/c.json" 2>&1)" || fail "init output does not validate: $out"
"$WAN22" config init "$T/c.json" >/dev/null 2>&1 && fail "existing file overwritten without --force"
"$WAN22" config init --force "$T/c.json" >/dev/null || fail "--force refused"
"$WAN22" config init > "$T/stdout.json" || fail "init to stdout failed"
cmp -s "$T/stdout.json" "$T/c.json" || fail "stdout and file differ"
# Every default is in it: show with this file lists each key with the same value as the defaults.
"$WAN22" config show | grep -E '^[a-z]' | sed -E 's/ +\[.*//' > "$T/defaults.txt"
"$WAN22" config show --config "$T/c.json" | grep -E '^[a-z]' | sed -E 's/ +\[.*//' > "$T/fromfile.txt"
[ "$(wc -l < "$T/defaults.txt")" -ge 80 ] || fail "config show lists too few keys"
diff "$T/defaults.txt" "$T/fromfile.txt" || fail "values from the init file differ from the defaults"
cmp -s "$T/stdout.json" "$SRC/configs/example.json" \
  || fail "configs/example.json is stale: regenerate with 'wan22 config init > configs/example.json'"
"$WAN22" config init --help | grep -q "usage: wan22 config init" || fail "no --help"
echo PASS
