#!/usr/bin/env bash
# Installs the dependencies, builds everything and runs the main job: every example (the
# ports of the seed programs) and, once it exists, a short `shmbus bench --quick`.
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
if [ -x "$build/tools/shmbus/shmbus" ]; then
  echo "=== shmbus bench --quick"
  "$build/tools/shmbus/shmbus" bench --quick
fi
