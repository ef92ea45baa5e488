#!/usr/bin/env bash
# wan22 inspect lists the same tensors (name, dtype, shape, bytes) for the golden .pth files
# (torch.save) and their .safetensors twins; the summary lines agree on count and bytes.
# usage: inspect_pth_vs_safetensors.sh <wan22> <source-dir>
set -uo pipefail
W=$1
SRC=$2
G=${WAN22_GOLDEN:-$SRC/../shared/testdata/golden}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -d "$G" ] || fail "golden fixture directory $G not found (set WAN22_GOLDEN)"

for stem in vae t5_encoder; do
  a=$("$W" inspect "$G/$stem.pth") || fail "inspect $stem.pth exited $?"
  b=$("$W" inspect "$G/$stem.safetensors") || fail "inspect $stem.safetensors exited $?"
  tensors_a=$(printf '%s\n' "$a" | sed '$d')
  tensors_b=$(printf '%s\n' "$b" | sed '$d')
  n=$(printf '%s\n' "$tensors_a" | grep -c .)
  [ "$n" -gt 0 ] || fail "$stem.pth: no tensors listed"
  diff <(printf '%s\n' "$tensors_a") <(printf '%s\n' "$tensors_b") >&2 || fail "$stem: tensor listings differ"
  # Every tensor line: name, dtype, shape, bytes separated by tabs.
  bad=$(printf '%s\n' "$tensors_a" | awk -F'\t' 'NF != 4 || $4 !~ /^[0-9]+$/ || $3 !~ /^\[/' | head -1)
  [ -z "$bad" ] || fail "$stem: malformed line: $bad"
  # Summary lines: the same "N tensors, B bytes" (the file information may differ).
  sum_a=$(printf '%s\n' "$a" | tail -1 | sed 's/ in .*//')
  sum_b=$(printf '%s\n' "$b" | tail -1 | sed 's/ in .*//')
  [ "$sum_a" = "$sum_b" ] || fail "$stem: summaries differ: '$sum_a' vs '$sum_b'"
  case "$sum_a" in "$n tensors, "*) ;; *) fail "$stem: summary '$sum_a' does not count $n tensors" ;; esac
  echo "$stem: $n tensors listed identically ($sum_a)"
done
