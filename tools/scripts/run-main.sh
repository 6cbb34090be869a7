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
cli="$build/tools/shmbus/shmbus"
if "$cli" bench --help >/dev/null 2>&1; then
  echo "=== shmbus bench --quick"
  "$cli" bench --quick
else
  echo "=== bench_sync_latency 20000 (until shmbus bench lands)"
  "$build/tools/bench/bench_sync_latency" 20000
fi
