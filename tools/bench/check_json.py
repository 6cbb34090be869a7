#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks a `shmbus bench --json` document: it parses, has the schema (version 3), every
mechanism, the baselines (floor, ring, memcpy in cache and in DRAM), every row's rounds with
their spread and per-round figures, and sane figures (percentiles in order, positive rates,
paired ratios to the floor and the ring); and the topic table: the ring, the Queue and a Topic
copying and lending at every topic size and subscriber count, paired with the ring and the
Queue, and iceoryx's rows when it ran, paired with them too (else a note saying why not). No
speed is asserted.

    check_json.py FILE [--python]        --python: Python's rows must be there too
    check_json.py FILE --python-only     a `--python --only python` run: Python's rows and the
                                         baselines only (no topic table)
    check_json.py FILE --topic-only      a `--only topic` run: the topic table and the baselines
    --shmbus-python (with --python or --python-only): the rows of shmbus used from Python too,
    each with its ratio to mp.Queue paired per round
"""
import json
import sys

COMPARED = ["shmbus.queue.spin", "shmbus.queue.hybrid", "shmbus.queue.block",
            "shmbus.pipe.spin", "shmbus.pipe.hybrid", "shmbus.pipe.block", "pipe2", "socketpair",
            "posix_mq", "boost_mq"]
PYTHON = ["python.mp_queue", "python.mp_pipe"]
SHMBUS_FROM_PYTHON = ["python.shmbus_queue", "python.shmbus_pipe", "python.shmbus_queue_cpp"]
# Pool rows (8 B argument) exist when 8 is among the sizes: one row each.
POOL = ["shmbus.pool.map", "shmbus.pool.apply_async"]
PYTHON_POOL = ["python.pool.map"]
MEMCPY = ["memcpy.cache", "memcpy.dram"]
TOPIC = ["shmbus.topic.copy", "shmbus.topic.loan"]


def fail(message):
    sys.exit(f"check_json: {message}")


def check_rounds(row, figure):
    rounds = row["per_round"]
    if row["rounds"] != len(rounds) or not rounds:
        fail(f"rounds and per_round disagree: {row}")
    spread = row["spread"][figure]
    values = [r[figure] for r in rounds]
    if not spread["min"] <= row[figure] <= spread["max"] or \
            (spread["min"], spread["max"]) != (min(values), max(values)):
        fail(f"{figure} outside its spread or spread not the rounds' range: {row}")


def check_ratio(row, name, figure, paired):
    ratio = row.get(f"ratio_to_{name}")
    if ratio is None or ratio.get(figure, 0) <= 0:
        fail(f"{row['mechanism']} at {row['size']} B without ratio_to_{name}")
    if paired and not ratio["paired"]:
        fail(f"{row['mechanism']} at {row['size']} B: ratio_to_{name} not paired")
    if not ratio["spread"]["min"] <= ratio[figure] <= ratio["spread"]["max"]:
        fail(f"{row['mechanism']}: ratio_to_{name} outside its spread")


def check_latency(row, paired):
    figures = [row[k] for k in ("p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns")]
    if row["count"] <= 0 or figures[0] <= 0:
        fail(f"latency figures not positive: {row}")
    if figures != sorted(figures) or any(r["p50_ns"] > r["p99_ns"] for r in row["per_round"]):
        fail(f"latency percentiles out of order: {row}")
    check_rounds(row, "p50_ns")
    if paired:
        for name in ("floor", "ring"):
            check_ratio(row, name, "p50", True)
            if any(r.get(f"{name}_p50_ns", 0) <= 0 for r in row["per_round"]):
                fail(f"{row['mechanism']}: a round without the {name} beside it")
        check_ratio(row, "pipe", "p50", False)


def check_throughput(row, paired):
    if row["messages"] <= 0 or row["seconds"] <= 0 or row["messages_per_s"] <= 0:
        fail(f"throughput figures not positive: {row}")
    check_rounds(row, "messages_per_s")
    if paired:
        check_ratio(row, "ring", "messages_per_s", True)
        for name in ("pipe", "memcpy_cache", "memcpy_dram"):
            check_ratio(row, name, "messages_per_s", False)


def check_topic_row(row, iceoryx_row):
    where = {"mechanism": f"{row['mechanism']} x{row['subscribers']}", "size": row["size"]}
    latency, throughput = ({**row[m], **where} for m in ("latency", "throughput"))
    paired = row["mechanism"] in TOPIC
    for kind, figures, check, figure in (("latency", latency, check_latency, "p50"),
                                         ("throughput", throughput, check_throughput,
                                          "messages_per_s")):
        if not figures["available"]:
            if not figures.get("note"):
                fail(f"topic {where}: missing without a reason")
            continue
        check(figures, False)
        if paired or row["mechanism"] == "iceoryx":
            for name in ("queue", "ring"):
                check_ratio(figures, name, figure, True)
        if paired and iceoryx_row and iceoryx_row[kind]["available"]:
            check_ratio(figures, "iceoryx", figure, True)


def check_topic(doc):
    topic = doc["topic"]
    if not topic["sizes"] or not topic["subscribers"]:
        fail("no topic table")
    rows = {(r["mechanism"], r["size"], r["subscribers"]): r for r in topic["rows"]}
    iceoryx = "iceoryx" in [m["key"] for m in topic["mechanisms"]]
    for size in topic["sizes"]:
        for key in ("ring", "shmbus.queue"):
            if (key, size, 1) not in rows:
                fail(f"topic: no {key} row at {size} B")
        for subscribers in topic["subscribers"]:
            for key in TOPIC + (["iceoryx"] if iceoryx else []):
                if (key, size, subscribers) not in rows:
                    fail(f"topic: no {key} row at {size} B with {subscribers} subscribers")
    for row in topic["rows"]:
        check_topic_row(row, rows.get(("iceoryx", row["size"], row["subscribers"])))
    if not iceoryx and not any(n.startswith("iceoryx") for n in doc["notes"]):
        fail("topic: no iceoryx rows and no note saying why")


def rows_of(doc, metric, key):
    return [r for r in doc[metric] if r["mechanism"] == key]


def check_every_size(doc, key, metric, paired):
    rows = rows_of(doc, metric, key)
    if len(rows) != len(doc["sizes"]):
        fail(f"{key}: {len(rows)} {metric} rows for {len(doc['sizes'])} sizes")
    check = check_latency if metric == "latency" else check_throughput
    for row in rows:
        if row["available"]:
            check(row, paired)
        elif not row.get("note"):
            fail(f"{key}: {metric} at {row['size']} B missing without a reason")
    if not any(r["available"] for r in rows):
        fail(f"{key}: no {metric} figure at any size")


def check_shmbus_from_python(doc, keys):
    missing = [k for k in SHMBUS_FROM_PYTHON if k not in keys]
    if missing:
        fail(f"shmbus-from-Python mechanisms missing: {missing}")
    for key in SHMBUS_FROM_PYTHON:
        for metric, figure in (("latency", "p50"), ("throughput", "messages_per_s")):
            check_every_size(doc, key, metric, False)
            for row in rows_of(doc, metric, key):
                check_ratio(row, "mp_queue", figure, True)


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    if doc.get("schema") != "shmbus.bench" or doc.get("version") != 3:
        fail("not a shmbus.bench version 3 document")
    if doc["rounds"] < 1 or doc["dram_buffer_bytes"] <= 0:
        fail("rounds or dram_buffer_bytes missing")
    python_only = "--python-only" in sys.argv[2:]
    topic_only = "--topic-only" in sys.argv[2:]
    python = python_only or "--python" in sys.argv[2:]
    compared = (["pipe2"] if python_only or topic_only else COMPARED) + (PYTHON if python else [])
    pools = ([] if python_only or topic_only else POOL) + (PYTHON_POOL if python else [])
    pools = pools if 8 in doc["sizes"] else []
    keys = [m["key"] for m in doc["mechanisms"]]
    missing = [k for k in ["floor", "ring"] + compared + MEMCPY + pools if k not in keys]
    if missing:
        fail(f"mechanisms missing: {missing}")
    for key in compared:
        check_every_size(doc, key, "latency", True)
        check_every_size(doc, key, "throughput", True)
    check_every_size(doc, "floor", "latency", False)
    if rows_of(doc, "throughput", "floor"):
        fail("the floor cannot stream: it has no throughput rows")
    check_every_size(doc, "ring", "latency", False)
    check_every_size(doc, "ring", "throughput", False)
    for row in rows_of(doc, "latency", "ring"):
        check_ratio(row, "floor", "p50", True)
    for key in MEMCPY:
        check_every_size(doc, key, "throughput", False)
    for key in pools:
        rows = rows_of(doc, "latency", key) + rows_of(doc, "throughput", key)
        if len(rows) != 1 or not rows[0]["available"]:
            fail(f"{key}: expected one row with a figure, got {rows}")
        (check_latency if "p50_ns" in rows[0] else check_throughput)(rows[0], False)
    if python and "--shmbus-python" in sys.argv[2:]:
        check_shmbus_from_python(doc, keys)
    if python_only:
        if doc["topic"]["rows"]:
            fail("topic rows in a --only python run")
    else:
        check_topic(doc)
    print(f"check_json: {len(keys)} mechanisms, {len(doc['latency'])} latency and "
          f"{len(doc['throughput'])} throughput rows, {len(doc['topic']['rows'])} topic rows, "
          f"{doc['rounds']} rounds each")


if __name__ == "__main__":
    main()
