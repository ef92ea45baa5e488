#!/usr/bin/env bash
# The README's test command: install dependencies, build everything, run the whole ctest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
export WAN22_GOLDEN="${WAN22_GOLDEN:-$PWD/../shared/testdata/golden}"
export WAN22_GOLDEN_DIFFUSERS="${WAN22_GOLDEN_DIFFUSERS:-$PWD/../shared/testdata/diffusers}"
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
