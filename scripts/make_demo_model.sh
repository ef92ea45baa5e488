#!/usr/bin/env bash
# Writes the built-in demo model (tiny TI2V architecture, deterministic random weights, a small
# trained tokenizer) into DIR (default: wan22's cache). `wan22 generate` without --model does this
# on first use; run it by hand to place the model elsewhere (then export WAN22_DEMO_MODEL=DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/wan22 ] || scripts/build.sh
exec build/wan22 demo-model "$@"
