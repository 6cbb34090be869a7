#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# tools/scripts/readme-figures.py on a committed sample run (bench-sample.json, a full run cut to
# three sizes): the committed fragment is exactly what it generates, a figure edited by hand is
# caught by --check, and rewriting restores the block and leaves the text around it alone.
#   test_readme_figures.sh SCRIPT DATA_DIR
set -eu
script=$1
data=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

python3 "$script" "$data/bench-sample.json" --readme "$data/expected.md" --check

cp "$data/expected.md" "$scratch/readme.md"
sed -i '0,/ µs |/s// ms |/' "$scratch/readme.md"
if cmp -s "$data/expected.md" "$scratch/readme.md"; then
  echo "the edit did not change the fragment" >&2
  exit 1
fi
if python3 "$script" "$data/bench-sample.json" --readme "$scratch/readme.md" --check >/dev/null 2>&1
then
  echo "--check accepted a figure edited by hand" >&2
  exit 1
fi

python3 "$script" "$data/bench-sample.json" --readme "$scratch/readme.md"
cmp "$data/expected.md" "$scratch/readme.md"
echo "readme-figures: generated, checked, edit caught, block restored"
