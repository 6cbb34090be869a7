#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# readme_example.sh CONSUMER PYTHON: runs the README's "From Python" example (the C++ consumer,
# then the Python producer) and checks the consumer's output.
set -euo pipefail
consumer=$1
python=$2
"$consumer" >consumer.out &
consumer_pid=$!
trap 'kill "$consumer_pid" 2>/dev/null || true; rm -f consumer.out' EXIT
"$python" "$(dirname "$0")/readme_producer.py"
wait "$consumer_pid"
cat consumer.out
for line in "ACME 10 @ 1.5" "INIT -3 @ 20.25" "ACME 5 @ 1.75" "total -37"; do
  grep -qxF "$line" consumer.out || { echo "readme_example: no line '$line'" >&2; exit 1; }
done
