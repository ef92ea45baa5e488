#!/usr/bin/env bash
# Configure and build wan22 into ./build (Release). Extra args go to cmake configure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j "$(nproc)"
