#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (clang, ASan+UBSan) and fuzzes each for a bounded time, starting
# from its seed corpus in fuzz/corpus/<target>/ (fuzz_inspect from segment/). New inputs go to
# a scratch directory, never into the repository; a crash, a sanitizer report or a hang
# (-timeout) leaves its reproducer in the build directory and fails the run.
#   FUZZ_SECONDS=60                          time per target
#   FUZZ_TARGETS="ring codec segment sizes topic inspect"
#   BUILD_DIR=build-fuzz
# Replay one input: build-fuzz/fuzz/fuzz_<target> <file>
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
tools/scripts/install-deps.sh
build=${BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-ring codec segment sizes topic inspect}
CXX=${CXX:-clang++} cmake -S . -B "$build" -G Ninja -DSHMBUS_WERROR=ON -DSHMBUS_BUILD_FUZZERS=ON \
  -DSHMBUS_SANITIZE=address -DSHMBUS_BUILD_TESTS=OFF
# shellcheck disable=SC2046
cmake --build "$build" -j"$(nproc)" --target $(printf 'fuzz_%s ' $targets)
status=0
for target in $targets; do
  scratch=$(mktemp -d)
  corpus=$target
  [ "$target" = inspect ] && corpus=segment # the same segment images seed both
  log="$build/fuzz_$target.log"
  echo "=== fuzz_$target for ${seconds}s"
  if (cd "$build" && exec "fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=4096 -print_final_stats=1 "$scratch" "$root/fuzz/corpus/$corpus") \
        >"$log" 2>&1; then
    grep -E "^stat::(number_of_executed_units|new_units_added|peak_rss_mb)" "$log" || true
  else
    tail -n 60 "$log"
    echo "fuzz_$target FAILED (full log: $log)"
    status=1
  fi
  rm -rf "$scratch"
done
exit $status
