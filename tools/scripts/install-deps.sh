#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian 12 package that building and testing shmbus needs. Run as root (or
# with sudo available). Skips apt when everything is already installed.
set -euo pipefail
packages=(cmake ninja-build g++ clang clang-format libclang-rt-14-dev libboost1.81-dev libgtest-dev
          libgmock-dev librapidcheck-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
          libcereal-dev python3 dpkg-dev pkg-config file doxygen nats-server libnats-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
