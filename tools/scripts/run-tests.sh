#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the dependencies, configures, builds and runs the whole test suite with ctest.
#   SHMBUS_SANITIZE=address|thread   build and test under ASan+UBSan or TSan (own build dir)
#   CXX=clang++                      build with clang instead of g++
#   BUILD_DIR=...                    where to build (default build, build-asan, build-tsan)
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/scripts/install-deps.sh
sanitize=${SHMBUS_SANITIZE:-}
build=${BUILD_DIR:-build${sanitize:+-$sanitize}}
cmake -S . -B "$build" -G Ninja -DSHMBUS_WERROR=ON -DSHMBUS_SANITIZE="$sanitize"
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"
