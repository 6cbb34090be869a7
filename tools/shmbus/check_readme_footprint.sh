#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The README's footprint table is what `shmbus footprint` prints: fails with a diff when the
# block between the footprint markers and the binary's output disagree (regenerate the block
# with the output of `shmbus footprint`).
#   check_readme_footprint.sh SHMBUS README
set -eu
shmbus=$1
readme=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
sed -n '/^<!-- footprint:begin -->$/,/^<!-- footprint:end -->$/p' "$readme" |
  grep -v -e '^<!-- footprint:' -e '^```' -e '^\$ shmbus footprint$' >"$scratch/readme.txt"
"$shmbus" footprint >"$scratch/binary.txt"
if [ ! -s "$scratch/readme.txt" ]; then
  echo "no footprint block in $readme" >&2
  exit 1
fi
diff -u "$scratch/readme.txt" "$scratch/binary.txt"
