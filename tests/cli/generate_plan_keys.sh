#!/usr/bin/env bash
# The memory-plan keys and --vram-budget act on the CUDA engine; on the CPU backend wan22 says it
# does not apply them (never silently), and the run still finishes.
set -euo pipefail
WAN22=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export WAN22_DEMO_MODEL=$tmp/demo
cd "$tmp"
"$WAN22" generate --device cpu --prompt "a red cat" --size 64x64 --frames 5 --steps 1 --seed 3 \
  --vram-budget 6 --set cpu_offload.unet=true --set tile_optimization.vae_tile_size=[256,256] \
  --set model_caching.cache_size_gb=2 --set batch_optimization.max_batch_size=1 \
  --output frames --plain 2> log.txt || { cat log.txt; exit 1; }
grep -q "not applied on the CPU backend" log.txt || { echo "plan keys on the CPU not reported"; cat log.txt; exit 1; }
for k in generation.vram_budget_gb cpu_offload.unet tile_optimization.vae_tile_size model_caching.cache_size_gb \
         batch_optimization.max_batch_size; do
  grep "not applied on the CPU backend" log.txt | grep -q "$k" || { echo "$k not named"; cat log.txt; exit 1; }
done
[ "$(ls frames | grep -c png)" = 5 ] || { echo "expected 5 PNG frames"; ls frames; exit 1; }
# No plan key set: no such warning.
"$WAN22" generate --device cpu --prompt "a red cat" --size 64x64 --frames 5 --steps 1 --seed 3 \
  --output frames2 --plain 2> log2.txt || { cat log2.txt; exit 1; }
if grep -q "not applied on the CPU backend" log2.txt; then echo "spurious warning"; cat log2.txt; exit 1; fi
# A bad budget is one clear error.
if "$WAN22" generate --device cpu --prompt x --vram-budget -3 --output f3 2> log3.txt; then
  echo "a negative budget was accepted"; exit 1
fi
grep -qi "vram_budget_gb" log3.txt || { cat log3.txt; exit 1; }
echo PASS
