#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs `shmbus bench --quick --json` RUNS times (default 10) and lists every round in which a
# row beat a bound it cannot beat: a round-trip p50 below the floor's p50 measured in the same
# round, or a one-way byte rate above memcpy in cache (the run's median at that size). Such a
# round means the harness, not the mechanism, was measured. Exit 1 when any was found.
# "Below" means by more than the latency histogram's resolution, 1/32 of the value
# (tools/bench/harness/histogram.hpp): an exchange that is the floor's own (the plain ring's at
# 8 B, sequence word and payload in one line) lands in the floor's bucket or the next one down.
# The bench itself measures such a latency round again, up to 3 times (until_floor_holds in
# tools/bench/harness/rounds.cpp); each run's line says how many it repeated.
#   check-floor.sh [RUNS] [SHMBUS]        SHMBUS: the CLI (default build/tools/shmbus/shmbus)
#   BENCH_ARGS="--sizes 64" check-floor.sh 3
set -euo pipefail
runs=${1:-10}
shmbus=${2:-build/tools/shmbus/shmbus}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for run in $(seq 1 "$runs"); do
  # shellcheck disable=SC2086 # BENCH_ARGS is a list of options
  "$shmbus" bench --quick --json ${BENCH_ARGS:-} > "$scratch/run-$run.json" || true
done

python3 - "$scratch" "$runs" <<'EOF'
import json
import sys

scratch, runs = sys.argv[1], int(sys.argv[2])
found = 0
for run in range(1, runs + 1):
    with open(f"{scratch}/run-{run}.json") as f:
        doc = json.load(f)
    ceiling = {r["size"]: r["bytes_per_s"] for r in doc["throughput"]
               if r["mechanism"] == "memcpy.cache" and r["available"]}
    problems, rounds = [], 0
    for row in doc["latency"]:
        for i, r in enumerate(row.get("per_round", [])):
            if "floor_p50_ns" in r:
                rounds += 1
                if r["p50_ns"] < r["floor_p50_ns"] * (1 - 1 / 32):
                    problems.append(f"{row['mechanism']} {row['size']} B round {i + 1}: p50 "
                                    f"{r['p50_ns']} ns < floor {r['floor_p50_ns']:.0f} ns")
    for row in doc["throughput"]:
        if row["mechanism"].startswith("memcpy.") or ".pool." in row["mechanism"] or \
                row["size"] not in ceiling:
            continue
        for i, r in enumerate(row.get("per_round", [])):
            rounds += 1
            rate = r["messages_per_s"] * row["size"]
            if rate > ceiling[row["size"]]:
                problems.append(f"{row['mechanism']} {row['size']} B round {i + 1}: "
                                f"{rate / 1e6:.0f} MB/s > memcpy in cache "
                                f"{ceiling[row['size']] / 1e6:.0f} MB/s")
    failed = [r for r in doc["latency"] + doc["throughput"] if "failed" in r.get("note", "")]
    again = next((int(note.split()[0]) for note in doc.get("notes", [])
                  if "measured again" in note), 0)
    print(f"run {run}: {rounds} rounds checked, {len(problems)} below the floor or above the "
          f"ceiling, {len(failed)} failed rows, {again} round(s) measured again; load "
          f"{doc['load_average']['before'].split()[0]} -> {doc['load_average']['after'].split()[0]}")
    for problem in problems:
        print(f"  {problem}")
    found += len(problems) + len(failed)
print(f"check-floor: {runs} runs, {found} problems")
sys.exit(1 if found else 0)
EOF
