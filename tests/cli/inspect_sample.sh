#!/usr/bin/env bash
# The README's main-job command: wan22 inspect assets/sample.safetensors lists its tensors (one of
# each common dtype) and a summary line.
# usage: inspect_sample.sh <wan22> <source-dir>
set -uo pipefail
W=$1
SRC=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
out=$("$W" inspect "$SRC/assets/sample.safetensors") || fail "inspect exited $?"
echo "$out"
n=$(printf '%s\n' "$out" | sed '$d' | grep -c .)
[ "$n" -ge 4 ] || fail "only $n tensors"
for dt in f32 bf16 f16 i64; do
  printf '%s\n' "$out" | sed '$d' | awk -F'\t' -v d="$dt" '$2 == d {found=1} END {exit !found}' || fail "no $dt tensor"
done
printf '%s\n' "$out" | tail -1 | grep -q "^$n tensors, " || fail "bad summary line"
