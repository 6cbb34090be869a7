#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian 12 package that building and testing shmbus needs. Run as root (or
# with sudo available). Skips apt when everything is already installed.
set -euo pipefail
packages=(cmake ninja-build g++ clang clang-format libclang-rt-14-dev libboost1.81-dev libgtest-dev
          libgmock-dev librapidcheck-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
          libcereal-dev python3 dpkg-dev pkg-config file doxygen nats-server libnats-dev
          python3-dev pybind11-dev python3-msgpack python3-pytest python3-hypothesis)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -ne 0 ]; then
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# msgpack-cxx (the MessagePack codec, include/shmbus/msgpack_codec.hpp) is header-only, but its
# Debian package depends on libboost-dev 1.74, which conflicts with libboost1.81-dev: its
# headers are unpacked from the .deb into /opt/msgpack-cxx (not registered with dpkg), where
# CMake looks for them (SHMBUS_MSGPACK_ROOT), and used with MSGPACK_NO_BOOST.
msgpack_root=/opt/msgpack-cxx
if [ ! -f "$msgpack_root/usr/include/msgpack.hpp" ]; then
  download=$(mktemp -d)
  (cd "$download" && apt-get download libmsgpack-cxx-dev 2>/dev/null ||
     { "${as_root[@]}" apt-get update -qq && apt-get download libmsgpack-cxx-dev; })
  "${as_root[@]}" mkdir -p "$msgpack_root"
  "${as_root[@]}" dpkg-deb -x "$download"/libmsgpack-cxx-dev_*.deb "$msgpack_root"
  rm -rf "$download"
fi
