#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# tools/scripts/readme-figures.py on committed sample runs (bench-sample.json: schema version 1,
# a full run cut to three sizes; bench-sample-v2.json: version 2, a --quick --python run at three
# sizes, per_round dropped but for the Pool rows; bench-sample-v3.json: version 3, a --quick run
# at 8 B and 64 KiB with the topic table and iceoryx's rows, per_round dropped the same way): each
# committed fragment is exactly what it
# generates, a figure edited by hand is caught by --check, and rewriting restores the block and
# leaves the text around it alone.
#   test_readme_figures.sh SCRIPT DATA_DIR
set -eu
script=$1
data=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

check_sample() {
  sample=$1
  expected=$2
  python3 "$script" "$sample" --readme "$expected" --check

  cp "$expected" "$scratch/readme.md"
  sed -i '0,/ µs |/s// ms |/' "$scratch/readme.md"
  if cmp -s "$expected" "$scratch/readme.md"; then
    echo "the edit did not change the fragment" >&2
    exit 1
  fi
  if python3 "$script" "$sample" --readme "$scratch/readme.md" --check >/dev/null 2>&1; then
    echo "--check accepted a figure edited by hand in $expected" >&2
    exit 1
  fi

  python3 "$script" "$sample" --readme "$scratch/readme.md"
  cmp "$expected" "$scratch/readme.md"
}

check_sample "$data/bench-sample.json" "$data/expected.md"
check_sample "$data/bench-sample-v2.json" "$data/expected-v2.md"
check_sample "$data/bench-sample-v3.json" "$data/expected-v3.md"
echo "readme-figures: generated, checked, edit caught, block restored (schema versions 1 to 3)"
