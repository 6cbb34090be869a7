#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian packages and checks them the way a user meets them: a Release build of the
# library and the CLI (no tests, no benchmarks), `cpack -G DEB`, both .deb files installed with
# apt-get (as root), then tests/consumer/project built against the installed package with a
# plain find_package(shmbus), the same program built with pkg-config, and `shmbus --version`;
# the packages are removed again at the end.
#   BUILD_DIR=...   where to build (default build-package); the packages are left there
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/scripts/install-deps.sh
build=${BUILD_DIR:-build-package}
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)

rm -rf "$build/packages"
# No -Werror here: at -O3, g++ 12 reports a false -Wrestrict inside std::string's operator+
# (GCC bug 105651); the tests stage builds with -Werror.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DSHMBUS_WERROR=OFF -DSHMBUS_BUILD_TESTS=OFF
cmake --build "$build" -j"$(nproc)" --target shmbus shmbus_shared shmbus_cli_main
(cd "$build" && cpack -G DEB -B "$PWD/packages")
debs=("$(cd "$build/packages" && pwd)"/*.deb)
for deb in "${debs[@]}"; do
  echo "=== $(basename "$deb")"
  dpkg-deb --info "$deb" | grep -E '^ (Package|Version|Depends):'
  dpkg-deb --contents "$deb" | awk '{print "  " $6}'
done
export DEBIAN_FRONTEND=noninteractive
consumer=$(mktemp -d)
# The packages are removed again when the check ends, so that later builds on this machine
# (the sanitizer stages, the next session) never see an installed shmbus instead of the tree's.
remove_packages() {
  rm -rf "$consumer"
  "${as_root[@]}" apt-get remove -y -qq libshmbus-dev shmbus-tools >/dev/null || true
}
trap remove_packages EXIT
"${as_root[@]}" apt-get install -y -qq --reinstall "${debs[@]}"

cmake -S tests/consumer/project -B "$consumer/find_package" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$consumer/find_package"
"$consumer/find_package/consumer"
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
g++ -std=c++20 -O1 tests/consumer/project/main.cpp $(pkg-config --cflags --libs shmbus) \
  -o "$consumer/pkg_config_consumer"
"$consumer/pkg_config_consumer"

expected="shmbus $(sed -n 's/^#define SHMBUS_VERSION_STRING "\(.*\)"$/\1/p' include/shmbus/version.hpp)"
version=$(shmbus --version)
echo "$version"
case "$version" in
  "$expected (segment layout "*) ;;
  *) echo "shmbus --version says '$version', expected '$expected (segment layout N)'" >&2; exit 1 ;;
esac
