#!/usr/bin/env bash
# Installs every Debian package wan22 needs to build and test. Safe to run repeatedly.
set -euo pipefail
PKGS=(build-essential cmake pkg-config git
      libopenblas-dev nlohmann-json3-dev libsentencepiece-dev libzip-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
      libpng-dev libjpeg-dev libwebp-dev libhwloc-dev libnuma-dev libsqlite3-dev
      clang libclang-rt-14-dev
      chromium)  # headless screenshot test of the wan22 bench HTML report
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
