#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks a `shmbus bench --json` document: it parses, has the schema, every mechanism, and
sane figures (percentiles in order, positive rates). No speed is asserted.

    check_json.py FILE [--python]     --python: Python's rows must be there too
"""
import json
import sys

EXPECTED = ["floor", "shmbus.queue.spin", "shmbus.queue.hybrid", "shmbus.queue.block",
            "shmbus.pipe.spin", "shmbus.pipe.hybrid", "shmbus.pipe.block", "pipe2", "socketpair",
            "posix_mq", "boost_mq"]
PYTHON = ["python.mp_queue", "python.mp_pipe"]
# Pool rows (8 B argument) exist when 8 is among the sizes: one latency or throughput row each.
POOL = ["shmbus.pool.map", "shmbus.pool.apply_async"]


def fail(message):
    sys.exit(f"check_json: {message}")


def check_latency(row):
    figures = [row[k] for k in ("p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns")]
    if row["count"] <= 0 or figures[0] <= 0 or figures != sorted(figures):
        fail(f"latency percentiles out of order: {row}")
    for baseline in ("ratio_to_floor", "ratio_to_pipe"):
        if row[baseline].get("p50", 0) <= 0:
            fail(f"latency row without {baseline}: {row}")


def check_throughput(row):
    if row["messages"] <= 0 or row["seconds"] <= 0 or row["messages_per_s"] <= 0:
        fail(f"throughput figures not positive: {row}")


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    if doc.get("schema") != "shmbus.bench" or doc.get("version") != 1:
        fail("not a shmbus.bench version 1 document")
    expected = EXPECTED + (PYTHON if "--python" in sys.argv[2:] else [])
    keys = [m["key"] for m in doc["mechanisms"]]
    missing = [k for k in expected + ["memcpy"] + (POOL if 8 in doc["sizes"] else []) if k not in keys]
    if missing:
        fail(f"mechanisms missing: {missing}")
    for metric, check in (("latency", check_latency), ("throughput", check_throughput)):
        for key in expected:
            rows = [r for r in doc[metric] if r["mechanism"] == key]
            if len(rows) != len(doc["sizes"]):
                fail(f"{key}: {len(rows)} {metric} rows for {len(doc['sizes'])} sizes")
            for row in rows:
                if row["available"]:
                    check(row)
                elif not row.get("note"):
                    fail(f"{key}: {metric} at {row['size']} B missing without a reason")
            if not any(r["available"] for r in rows):
                fail(f"{key}: no {metric} figure at any size")
    if 8 in doc["sizes"]:
        for key in POOL:
            rows = [r for r in doc["latency"] + doc["throughput"] if r["mechanism"] == key]
            if len(rows) != 1 or not rows[0]["available"]:
                fail(f"{key}: expected one row with a figure, got {rows}")
            (check_latency if "p50_ns" in rows[0] else check_throughput)(rows[0])
    print(f"check_json: {len(keys)} mechanisms, {len(doc['latency'])} latency and "
          f"{len(doc['throughput'])} throughput rows")


if __name__ == "__main__":
    main()
