#!/usr/bin/env bash
# Bad requests exit non-zero with one clear line on stderr, and nothing is written.
set -uo pipefail
WAN22=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export WAN22_DEMO_MODEL=$tmp/demo
cd "$tmp"
fails=0
expect_error() {  # expect_error PATTERN -- args...
  local pattern=$1; shift; shift
  "$WAN22" "$@" > out.txt 2> err.txt
  local rc=$?
  local last
  last=$(grep "wan22: error" err.txt || true)
  if [ $rc -eq 0 ] || [ $rc -ge 128 ] || [ "$(grep -c 'wan22: error' err.txt)" != 1 ] || ! grep -q -- "$pattern" <<< "$last"; then
    echo "FAIL: '$*' rc=$rc, expected one error line matching '$pattern'"; cat err.txt; fails=$((fails+1))
  else
    echo "ok: $last"
  fi
}
expect_error "does not exist" -- generate --prompt x --model "$tmp/no-such-model" --output a.mp4
mkdir empty-model
expect_error "incomplete" -- generate --prompt x --model "$tmp/empty-model" --output a.mp4
expect_error "not a multiple of 32" -- generate --prompt x --size 100x64 --frames 5 --steps 1 --output a.mp4
printf 'not an image' > bad.png
expect_error "bad.png" -- generate --prompt x --image bad.png --size 96x64 --frames 5 --steps 1 --output a.mp4
printf '{ "generation": { "steps": "many" } }' > bad.json
expect_error "generation.steps" -- generate --prompt x --config bad.json --output a.mp4
printf '{ "memory_pool": { "fragmentation_treshold": 0.1 } }' > typo.json
expect_error "memory_pool.fragmentation_treshold" -- generate --prompt x --config typo.json --output a.mp4
expect_error "--prompt is required" -- generate --size 96x64
expect_error "unknown option" -- generate --prompt x --bogus 1
expect_error "does not exist" -- generate --prompt x --size 96x64 --frames 5 --steps 1 --output "$tmp/nodir/a.mp4"
# No usable GPU (hidden here; or a build without the CUDA backend): --device cuda says why.
CUDA_VISIBLE_DEVICES= expect_error "device cuda" -- generate --prompt x --device cuda --size 96x64 --frames 5 --steps 1 --output a.mp4
expect_error "text-encoder-device" -- generate --prompt x --device cpu --text-encoder-device cuda --size 96x64 --output a.mp4
expect_error "text-encoder-device" -- generate --prompt x --text-encoder-device tpu --size 96x64 --output a.mp4
[ ! -e a.mp4 ] || { echo "FAIL: a.mp4 was written"; fails=$((fails+1)); }
exit $fails
