#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Python's multiprocessing.Queue and Pipe measured the way `shmbus bench` measures shmbus.

Round-trip latency (ping-pong between two processes, p50/p90/p99/p99.9/max) and one-way
throughput (msg/s, MB/s) for bytes messages of each size, the two processes pinned to two CPUs
when there are two; and multiprocessing.Pool.map of trivial tasks. `shmbus bench --python` runs
this script once per round of each row (--only, --metric, --sizes with one size, --seconds), so
that the floor and the ring it measures beside each round divide figures of that round.

    python3 tools/bench/python_mp.py [--quick] [--json] [--sizes 8,64,1024,65536]
    python3 tools/bench/python_mp.py --json --list                  the mechanisms
    python3 tools/bench/python_mp.py --json --pool-map 1000000 --rounds 5
"""
import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import struct
import time

MECHANISMS = [("python.mp_queue", "Python mp.Queue"), ("python.mp_pipe", "Python mp.Pipe")]
POOL_KEY = "python.pool.map"
LARGE = 64 * 1024
# As in shmbus bench: a measurement stops early once its budget has passed (after MINIMUM
# samples), so a loaded machine gives fewer samples rather than a run without end.
MINIMUM = 100
END = b""  # tells the peer to stop; every measured message has at least one byte


class QueueChannel:
    """Two multiprocessing.Queue objects, one per direction."""

    def __init__(self, ctx):
        self.to_child, self.to_parent = ctx.Queue(), ctx.Queue()

    def send(self, side, data):
        (self.to_child if side == "parent" else self.to_parent).put(data)

    def recv(self, side):
        return (self.to_parent if side == "parent" else self.to_child).get()


class PipeChannel:
    """One duplex multiprocessing.Pipe, raw bytes (send_bytes/recv_bytes: no pickling)."""

    def __init__(self, ctx):
        self.parent_end, self.child_end = ctx.Pipe(duplex=True)

    def send(self, side, data):
        (self.parent_end if side == "parent" else self.child_end).send_bytes(data)

    def recv(self, side):
        return (self.parent_end if side == "parent" else self.child_end).recv_bytes()


def pin(cpu_index, enabled):
    """Pins this process to the cpu_index-th allowed CPU; returns the old set to restore."""
    allowed = sorted(os.sched_getaffinity(0))
    if not enabled or len(allowed) < 2:
        return None
    os.sched_setaffinity(0, {allowed[cpu_index % len(allowed)]})
    return set(allowed)


def stamp(payload, seq):
    head = struct.pack("<Q", seq)[: min(8, len(payload))]
    return head + payload[len(head):]


def echo(channel, cpus):
    if cpus:
        os.sched_setaffinity(0, {sorted(cpus)[1]})
    while (message := channel.recv("child")) != END:
        channel.send("child", message)


def next_of(x):
    """The trivial task, as shmbus bench's Pool row maps it: what remains is the dispatch."""
    return x + 1


def pool_map(tasks, rounds):
    """Pool.map of `tasks` trivial tasks, `rounds` times after one warm-up map, with the default
    worker count (os.cpu_count(), as shmbus's Pool): one throughput row per round."""
    inputs = list(range(tasks))
    rows = []
    with mp.get_context("fork").Pool() as pool:
        pool.map(next_of, inputs[:10_000])
        for _ in range(rounds):
            start = time.perf_counter_ns()
            results = pool.map(next_of, inputs)
            seconds = (time.perf_counter_ns() - start) / 1e9
            if results[-1] != tasks:
                raise RuntimeError("Pool.map returned a wrong result")
            rows.append({"mechanism": POOL_KEY, "metric": "throughput", "size": 8,
                         "messages": tasks, "seconds": seconds})
    return rows


def produce(channel, size, count, ready, go, stop, cpus):
    if cpus:
        os.sched_setaffinity(0, {sorted(cpus)[1]})
    payload = bytes(size)
    ready.set()
    go.wait()
    for i in range(count):
        if stop.is_set():
            break
        channel.send("child", stamp(payload, i))
    channel.send("child", END)


def percentile(ordered, q):
    """Nearest rank, as shmbus bench's histogram: the smallest sample with rank >= q."""
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def latency(ctx, make, size, trips, warmup, budget, pin_cpus):
    channel = make(ctx)
    cpus = pin(0, pin_cpus)
    child = ctx.Process(target=echo, args=(channel, cpus))
    child.start()
    payload = bytes(size)
    samples = []
    deadline = time.monotonic() + budget
    try:
        for i in range(trips + warmup):
            if len(samples) >= MINIMUM and time.monotonic() > deadline:
                break
            message = stamp(payload, i)
            start = time.perf_counter_ns()
            channel.send("parent", message)
            back = channel.recv("parent")
            elapsed = time.perf_counter_ns() - start
            if back != message:
                raise RuntimeError(f"round trip {i} came back altered")
            if i >= warmup:
                samples.append(elapsed)
    finally:
        channel.send("parent", END)
        child.join()
        if cpus:
            os.sched_setaffinity(0, cpus)
    samples.sort()
    return {
        "count": len(samples),
        "p50_ns": percentile(samples, 0.50),
        "p90_ns": percentile(samples, 0.90),
        "p99_ns": percentile(samples, 0.99),
        "p999_ns": percentile(samples, 0.999),
        "max_ns": samples[-1],
    }


def throughput(ctx, make, size, count, warmup, budget, pin_cpus):
    """Timed from the last of `warmup` messages (not counted) to the last message."""
    channel = make(ctx)
    ready, go, stop = ctx.Event(), ctx.Event(), ctx.Event()
    cpus = pin(0, pin_cpus)
    child = ctx.Process(target=produce,
                        args=(channel, size, warmup + count, ready, go, stop, cpus))
    child.start()
    received = 0
    try:
        ready.wait()
        go.set()
        start = time.perf_counter_ns()
        deadline = time.monotonic() + budget
        while (message := channel.recv("parent")) != END:
            if message[:8] != struct.pack("<Q", received)[: min(8, size)]:
                raise RuntimeError(f"message {received} lost or reordered")
            received += 1
            if received == warmup:
                start = time.perf_counter_ns()
                deadline = time.monotonic() + budget
            if received >= warmup + MINIMUM and received % 64 == 0 and \
                    time.monotonic() > deadline:
                stop.set()
        seconds = (time.perf_counter_ns() - start) / 1e9
    finally:
        child.join()
        if cpus:
            os.sched_setaffinity(0, cpus)
    return {"messages": received - warmup, "seconds": seconds}


def budget_for(size, quick, seconds):
    """(round trips, warm-up trips, messages, warm-up messages, seconds) of one measurement;
    with --seconds, the time alone ends it."""
    large = size >= LARGE
    if seconds is not None:
        trips, warmup, count, warm = (10**9, 20 if large else 200, 10**12, 20 if large else 200)
        return trips, warmup, count, warm, seconds
    if quick:
        return (100, 10, 300, 10, 0.3) if large else (500, 50, 2000, 50, 0.3)
    return (2000, 200, 10000, 100, 2) if large else (10000, 1000, 100000, 1000, 2)


def measure(ctx, args, sizes, metrics):
    makers = {"python.mp_queue": QueueChannel, "python.mp_pipe": PipeChannel}
    rows = []
    for key, _ in MECHANISMS:
        if args.only and key != args.only:
            continue
        for size in sizes:
            trips, warmup, count, warm, budget = budget_for(size, args.quick, args.seconds)
            if "latency" in metrics:
                row = {"mechanism": key, "metric": "latency", "size": size}
                row.update(latency(ctx, makers[key], size, trips, warmup, budget,
                                   not args.no_pin))
                rows.append(row)
            if "throughput" in metrics:
                row = {"mechanism": key, "metric": "throughput", "size": size}
                row.update(throughput(ctx, makers[key], size, count, warm, budget,
                                      not args.no_pin))
                rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer round trips and messages")
    parser.add_argument("--json", action="store_true", help="print JSON for shmbus bench")
    parser.add_argument("--sizes", default="8,64,1024,65536", help="message sizes in bytes")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to two CPUs")
    parser.add_argument("--list", action="store_true", help="only list the mechanisms")
    parser.add_argument("--only", help="only this mechanism key")
    parser.add_argument("--metric", choices=["latency", "throughput"], help="only this metric")
    parser.add_argument("--seconds", type=float,
                        help="each measurement runs this long after its warm-up")
    parser.add_argument("--pool-map", type=int, metavar="TASKS",
                        help="instead: Pool.map of TASKS trivial tasks, --rounds times")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of --pool-map")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if min(sizes) < 1:
        parser.error("sizes must be at least 1 byte")
    if args.list:
        rows = []
    elif args.pool_map:
        rows = pool_map(args.pool_map, args.rounds)
    else:
        metrics = [args.metric] if args.metric else ["latency", "throughput"]
        rows = measure(mp.get_context("fork"), args, sizes, metrics)
    doc = {
        "schema": "shmbus.bench.python",
        "version": 1,
        "python": f"Python {platform.python_version()}",
        "mechanisms": [{"key": k, "label": label} for k, label in MECHANISMS],
        "rows": rows,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    labels = dict(MECHANISMS + [(POOL_KEY, "Python Pool.map")])
    for row in rows:
        what = f"{labels[row['mechanism']]:16} {row['size']:6} B"
        if row["metric"] == "latency":
            print(f"{what}  round trip p50 {row['p50_ns'] / 1e3:8.1f} us  "
                  f"p99 {row['p99_ns'] / 1e3:8.1f} us")
        else:
            rate = row["messages"] / row["seconds"]
            print(f"{what}  one way {rate / 1e3:9.1f} k msg/s  {rate * row['size'] / 1e6:8.1f} MB/s")


if __name__ == "__main__":
    main()
