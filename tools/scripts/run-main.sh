#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the dependencies, builds everything and runs the main job: every example (the
# ports of the seed programs) and a short `shmbus bench --quick` (about a minute with its topic
# table; the full run is `shmbus bench`, a few minutes).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/scripts/install-deps.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DSHMBUS_WERROR=ON
cmake --build "$build" -j"$(nproc)"
for example in "$build"/tools/examples/example_*; do
  echo "=== ${example##*/example_}"
  "$example"
done
echo "=== shmbus bench --quick"
"$build/tools/shmbus/shmbus" bench --quick
