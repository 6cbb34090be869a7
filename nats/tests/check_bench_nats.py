# SPDX-License-Identifier: Apache-2.0
"""Checks `shmbus bench --nats --json`: every NATS row measured, paired with pipe(2) (and the
Queue for the bridge rows) in each round, and the server's note present."""
import json
import sys

with open(sys.argv[1]) as f:
    doc = json.load(f)
rows = {(r["mechanism"], "p50_ns" in r): r for r in doc["latency"] + doc["throughput"]}
for key, latency in [("nats.queue.bridge", True), ("nats.queue.bridge", False),
                     ("nats.pool.apply", True), ("nats.pool.map", False)]:
    row = rows.get((key, latency))
    assert row is not None and row["available"], (key, latency, row)
    assert row["rounds"] == 1, row
    figure = row["p50_ns"] if latency else row["messages_per_s"]
    assert figure > 0, row
    suffix = "_p50_ns" if latency else "_messages_per_s"
    paired = row["per_round"][0]
    assert "pipe2" + suffix in paired, paired
    if key == "nats.queue.bridge":
        assert "shmbus.queue.hybrid" + suffix in paired, paired
notes = " ".join(doc["notes"])
assert "NATS rows: " in notes and "stopped after" in notes, notes
assert "Queue bridge round trip p50" in notes, notes
print("nats bench rows ok")
