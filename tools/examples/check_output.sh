#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# check_output.sh EXAMPLE EXPECT_FILE: runs EXAMPLE and requires every line of EXPECT_FILE
# (an extended regular expression; blank lines and lines starting with '#' are skipped) to
# match a line of its output, in order. Prints the output, and on failure the first miss.
set -u
exe=$1
expect=$2
out=$("$exe" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
  echo "check_output: $exe exited with $rc" >&2
  exit 1
fi
mapfile -t lines <<<"$out"
i=0
while IFS= read -r pattern || [ -n "$pattern" ]; do
  case "$pattern" in '' | '#'*) continue ;; esac
  while [ "$i" -lt "${#lines[@]}" ] && ! [[ "${lines[$i]}" =~ $pattern ]]; do
    i=$((i + 1))
  done
  if [ "$i" -ge "${#lines[@]}" ]; then
    echo "check_output: no output line matches /$pattern/ (in order)" >&2
    exit 1
  fi
  i=$((i + 1))
done <"$expect"
echo "check_output: all expected lines found"
