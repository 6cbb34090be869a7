#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Instructions per 64 B message on the message path of a Pipe (send_bytes + recv_bytes_into; and
# typed, send + recv of a 64-byte array), a Queue (put + get) and a Topic with one subscriber
# (publish + recv), counted by callgrind in one
# process with no peer (tools/bench/message_path.cpp). Each kind runs at 1,000 and at 11,000
# messages; the difference divided by 10,000 cancels the set-up. Deterministic, so unlike a
# timing it can be compared across machines and runs. Needs valgrind.
#   count-instructions.sh [PROGRAM]   PROGRAM: bench_message_path (default
#                                     build/tools/bench/bench_message_path)
set -euo pipefail
program=${1:-build/tools/bench/bench_message_path}
if ! command -v valgrind > /dev/null; then
  echo "count-instructions.sh: needs valgrind (apt-get install valgrind)" >&2
  exit 2
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

collected() {
  valgrind --tool=callgrind --callgrind-out-file="$scratch/callgrind.out" "$program" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

for kind in pipe pipe-typed queue topic; do
  few=$(collected "$kind" 1000)
  many=$(collected "$kind" 11000)
  echo "$kind: $(((many - few) / 10000)) instructions per message"
done
