#!/usr/bin/env bash
# Every ```json snippet of the performance guide itself validates with `wan22 config validate`.
# The guide lives outside the repository (../shared/seed); the test is skipped when it is absent.
set -u
WAN22="$1"; SRC="$2"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
guide=""
for d in "${WAN22_GUIDE:-}" "$SRC/../shared/seed" "$SRC/../../shared/seed"; do
  [ -n "$d" ] || continue
  [ -f "$d" ] && { guide="$d"; break; }
  [ -f "$d/WAN22_PERFORMANCE_OPTIMIZATION_GUIDE.md" ] && { guide="$d/WAN22_PERFORMANCE_OPTIMIZATION_GUIDE.md"; break; }
done
if [ -z "$guide" ]; then echo "SKIP: guide not found (set WAN22_GUIDE)"; exit 0; fi
awk -v dir="$T" '/^ *```json *$/ {n++; f=sprintf("%s/snippet%02d.json", dir, n); inb=1; next}
                 /^ *```/ && inb {inb=0; next}
                 inb {print > f}' "$guide"
count=$(ls "$T"/snippet*.json 2>/dev/null | wc -l)
[ "$count" -ge 20 ] || fail "found only $count json snippets in $guide"
for f in "$T"/snippet*.json; do
  out="$("$WAN22" config validate --quiet "$f" 2>&1)" || { cat "$f"; fail "guide snippet rejected: $out"; }
  grep -q "$(basename "$f"): OK" <<<"$out" || fail "no OK for $f: $out"
done
echo "PASS: $count snippets of $guide"
