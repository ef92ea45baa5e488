#!/usr/bin/env bash
# wan22 cache: lists an empty cache, clears partial writes of an interrupted process (and nothing
# else), names a missing entry, refuses a RAM cache with a reason, emits valid JSON.
set -euo pipefail
WAN22=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=$tmp/xdg
"$WAN22" cache list > "$tmp/out.txt" 2>&1 || { cat "$tmp/out.txt"; exit 1; }
grep -q "0 entries" "$tmp/out.txt" || { echo "empty cache not listed"; cat "$tmp/out.txt"; exit 1; }
grep -q "$tmp/xdg/wan22" "$tmp/out.txt" || { echo "default location not XDG_CACHE_HOME/wan22"; cat "$tmp/out.txt"; exit 1; }
mkdir -p "$tmp/c"
echo partial > "$tmp/c/dit-0123456789abcdef.wan22.safetensors.tmp.4242"
echo keep > "$tmp/c/notes.txt"
"$WAN22" cache clear --location "$tmp/c" > "$tmp/clear.txt"
[ ! -e "$tmp/c/dit-0123456789abcdef.wan22.safetensors.tmp.4242" ] || { echo "partial write left"; exit 1; }
[ -e "$tmp/c/notes.txt" ] || { echo "a file that is not the cache's was removed"; exit 1; }
if "$WAN22" cache remove dit-nothere --location "$tmp/c" 2> "$tmp/rm.txt"; then echo "removing a missing entry succeeded"; exit 1; fi
grep -q "no entry 'dit-nothere'" "$tmp/rm.txt" || { cat "$tmp/rm.txt"; exit 1; }
if "$WAN22" cache list --set model_caching.cache_location=ram 2> "$tmp/ram.txt"; then echo "ram listed"; exit 1; fi
grep -q "memory of the process" "$tmp/ram.txt" || { cat "$tmp/ram.txt"; exit 1; }
"$WAN22" cache list --json --location "$tmp/c" > "$tmp/list.json"
grep -q '"entries": \[\]' "$tmp/list.json" || { cat "$tmp/list.json"; exit 1; }
if "$WAN22" cache frobnicate 2> "$tmp/bad.txt"; then echo "unknown action accepted"; exit 1; fi
grep -q "unknown argument 'frobnicate'" "$tmp/bad.txt" || { cat "$tmp/bad.txt"; exit 1; }
echo PASS
