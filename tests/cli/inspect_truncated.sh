#!/usr/bin/env bash
# wan22 inspect on truncated copies of checkpoints exits non-zero (never by a signal) with exactly
# one line on stderr naming the file, and prints nothing on stdout.
# usage: inspect_truncated.sh <wan22> <source-dir>
set -uo pipefail
W=$1
SRC=$2
G=${WAN22_GOLDEN:-$SRC/../shared/testdata/golden}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -d "$G" ] || fail "golden fixture directory $G not found (set WAN22_GOLDEN)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cases=0
for f in "$G/vae.pth" "$G/vae.safetensors" "$G/t5_encoder.pth" "$G/t5_encoder.safetensors" \
         "$SRC/assets/sample.safetensors" "$SRC/tests/data/pth/views_zip64.pth"; do
  [ -f "$f" ] || fail "$f missing"
  size=$(stat -c %s "$f")
  # Inside the 8-byte length, inside the header/pickle, the data, the zip directory, the last byte.
  for cut in 0 1 5 8 9 100 1000 $((size / 3)) $((size / 2)) $((size - 4096)) $((size - 100)) $((size - 22)) $((size - 1)); do
    [ "$cut" -ge 0 ] && [ "$cut" -lt "$size" ] || continue
    copy="$tmp/cut_${cut}_$(basename "$f")"
    head -c "$cut" "$f" > "$copy"
    "$W" inspect "$copy" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    [ "$rc" -ne 0 ] || fail "$copy: exit code 0"
    [ "$rc" -lt 128 ] || fail "$copy: killed by a signal (exit $rc): $(cat "$tmp/err")"
    lines=$(wc -l < "$tmp/err")
    [ "$lines" -eq 1 ] || fail "$copy: $lines lines on stderr: $(cat "$tmp/err")"
    grep -qF "$copy" "$tmp/err" || fail "$copy: the message does not name the file: $(cat "$tmp/err")"
    [ ! -s "$tmp/out" ] || fail "$copy: printed on stdout: $(head -3 "$tmp/out")"
    cases=$((cases + 1))
  done
done
echo "$cases truncated copies rejected with one line each; e.g.: $(cat "$tmp/err")"

# A missing file, too.
"$W" inspect "$tmp/does_not_exist.pth" > /dev/null 2> "$tmp/err"
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] || fail "missing file: exit $rc"
[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "missing file: $(cat "$tmp/err")"
