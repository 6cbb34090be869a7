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
# Line tables only (-g1): full debug info made every test file take a quarter longer to compile
# (24 s against 19 s for tests/property/test_queue_properties.cpp), for nothing a test report
# uses. The sanitizer builds choose their own flags (tools/cmake/Sanitizers.cmake).
cmake -S . -B "$build" -G Ninja -DSHMBUS_WERROR=ON -DSHMBUS_SANITIZE="$sanitize" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"
