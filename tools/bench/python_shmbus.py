#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""shmbus used from Python, measured as tools/bench/python_mp.py measures multiprocessing.

Round-trip latency (p50/p90/p99/p99.9/max) and one-way throughput of bytes messages through:

  python.shmbus_queue      two shmbus.Queue (msgpack codec), Python <-> Python (fork)
  python.shmbus_pipe       one shmbus.Pipe, send_bytes/recv_bytes, Python <-> Python (fork)
  python.shmbus_queue_cpp  two shmbus.Queue, Python <-> a C++ process (Queue<MsgpackBytes,
                           MsgpackCodec>: the peer forwards the encoded message unread)

It takes python_mp.py's options (--list, --only, --metric, --seconds) and prints its JSON
document (schema shmbus.bench.python, version 1), so `shmbus bench --python` runs both scripts
and puts all the rows side by side, each round of these paired with one of mp.Queue. Needs the
shmbus module on PYTHONPATH; the C++ rows need --peer (python/tests/peer.cpp, built as
build/python/shmbus_python_peer) and are left out without it.

    PYTHONPATH=build/python/module /usr/bin/python3 tools/bench/python_shmbus.py \\
        --peer build/python/shmbus_python_peer [--quick] [--json] [--sizes 64]
"""
import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import struct
import subprocess
import time
import uuid

import shmbus

MECHANISMS = [("python.shmbus_queue", "shmbus.Queue py-py"),
              ("python.shmbus_pipe", "shmbus.Pipe py-py"),
              ("python.shmbus_queue_cpp", "shmbus.Queue py-C++")]
LARGE = 64 * 1024
MINIMUM = 100  # samples before a measurement may stop at its time budget, as python_mp.py
END = b""  # tells a Python peer to stop; every measured message has at least one byte
# A Queue does not tell a reader that its writer died (a Pipe does: EndOfStream): a reader that
# waits this long fails instead of hanging the bench.
PATIENCE = 60.0


class QueueChannel:
    """Two shmbus.Queue objects, one per direction."""

    def __init__(self, segment, tag):
        self.to_child = shmbus.Queue(segment=segment, name=f"{tag}.to_child",
                                     max_message_size=1 << 20)
        self.to_parent = shmbus.Queue(segment=segment, name=f"{tag}.to_parent",
                                      max_message_size=1 << 20)

    def send(self, side, data):
        (self.to_child if side == "parent" else self.to_parent).put(data)

    def recv(self, side):
        return (self.to_parent if side == "parent" else self.to_child).get(timeout=PATIENCE)


class PipeChannel:
    """One duplex shmbus.Pipe, raw bytes."""

    def __init__(self, segment, tag):
        del tag  # pipes have no name
        self.parent_end, self.child_end = shmbus.Pipe(segment=segment)

    def send(self, side, data):
        (self.parent_end if side == "parent" else self.child_end).send_bytes(data)

    def recv(self, side):
        return (self.parent_end if side == "parent" else self.child_end).recv_bytes()


def allowed_cpus(enabled):
    cpus = sorted(os.sched_getaffinity(0))
    return cpus if enabled and len(cpus) >= 2 else None


def stamp(payload, seq):
    head = struct.pack("<Q", seq)[: min(8, len(payload))]
    return head + payload[len(head):]


def percentile(ordered, q):
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


class PythonPeer:
    """A forked Python process on the other end of `channel`."""

    def __init__(self, channel, cpus, target, *args):
        ctx = mp.get_context("fork")
        # A daemon: should this process fail, exit does not wait for a peer that waits for it.
        self.process = ctx.Process(target=target, args=(channel, cpus, *args), daemon=True)
        self.process.start()

    def stop(self, channel):
        try:
            channel.send("parent", END)
            self.process.join(60)
        finally:
            kill_if_running(self.process)


def echo(channel, cpus):
    if cpus:
        os.sched_setaffinity(0, {cpus[1]})
    while (message := channel.recv("child")) != END:
        channel.send("child", message)


def produce(channel, cpus, size, count, budget, go):
    if cpus:
        os.sched_setaffinity(0, {cpus[1]})
    payload = bytes(size)
    go.wait()
    send_until(lambda message: channel.send("child", message), payload, count, budget)
    channel.send("child", END)


def send_until(send, payload, count, budget):
    """Sends `count` stamped messages, or fewer once `budget` seconds passed (MINIMUM first)."""
    deadline = time.monotonic() + budget
    for i in range(count):
        if i >= MINIMUM and i % 64 == 0 and time.monotonic() > deadline:
            return i
        send(stamp(payload, i))
    return count


def cpp_peer(peer, segment, cpus, part, tag):
    pin = (lambda: os.sched_setaffinity(0, {cpus[1]})) if cpus else None
    return subprocess.Popen([peer, segment.name, part, f"{tag}.to_child", f"{tag}.to_parent"],
                            preexec_fn=pin)


def kill_if_running(child):
    """Kills and reaps a peer left running by a failure: the bench reads our stdout until every
    process holding it is gone."""
    if isinstance(child, subprocess.Popen) and child.poll() is None:
        child.kill()
        child.wait()
    elif isinstance(child, mp.process.BaseProcess) and child.is_alive():
        child.kill()
        child.join()


def stop_cpp_peer(channel, child):
    """Tells the C++ relay to stop (nil), and kills it if that fails."""
    try:
        channel.send("parent", None)
        child.wait(60)
    finally:
        kill_if_running(child)


def latency(segment, mechanism, size, trips, warmup, budget, cpus, peer):
    tag = uuid.uuid4().hex[:8]
    channel = (PipeChannel if mechanism == "python.shmbus_pipe" else QueueChannel)(segment, tag)
    if mechanism == "python.shmbus_queue_cpp":
        child = cpp_peer(peer, segment, cpus, "relay", tag)
    else:
        child = PythonPeer(channel, cpus, echo)
    old = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, {cpus[0]})
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
        if isinstance(child, PythonPeer):
            child.stop(channel)
        else:
            stop_cpp_peer(channel, child)
        os.sched_setaffinity(0, old)
    samples.sort()
    return {"count": len(samples), "p50_ns": percentile(samples, 0.50),
            "p90_ns": percentile(samples, 0.90), "p99_ns": percentile(samples, 0.99),
            "p999_ns": percentile(samples, 0.999), "max_ns": samples[-1]}


def throughput(segment, mechanism, size, count, budget, cpus, peer):
    """Python producer to the other side: Python consumer here, or the C++ peer draining."""
    tag = uuid.uuid4().hex[:8]
    channel = (PipeChannel if mechanism == "python.shmbus_pipe" else QueueChannel)(segment, tag)
    old = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, {cpus[0]})
    child = None
    try:
        if mechanism == "python.shmbus_queue_cpp":
            child = cpp_peer(peer, segment, cpus, "drain", tag)
            payload = bytes(size)
            start = time.perf_counter_ns()
            count = send_until(lambda message: channel.send("parent", message), payload, count,
                               budget)
            channel.send("parent", None)
            channel.recv("parent")  # the peer's nil once it took everything
            seconds = (time.perf_counter_ns() - start) / 1e9
            child.wait(60)
            return {"messages": count, "seconds": seconds}
        go = mp.get_context("fork").Event()
        child = mp.get_context("fork").Process(target=produce, daemon=True,
                                               args=(channel, cpus, size, count, budget, go))
        child.start()
        received = 0
        start = time.perf_counter_ns()
        go.set()
        while (message := channel.recv("parent")) != END:
            if message[:8] != struct.pack("<Q", received)[: min(8, size)]:
                raise RuntimeError(f"message {received} lost or reordered")
            received += 1
        seconds = (time.perf_counter_ns() - start) / 1e9
        child.join()
        return {"messages": received, "seconds": seconds}
    finally:
        kill_if_running(child)
        os.sched_setaffinity(0, old)


def budget_for(size, quick, seconds):
    """(round trips, warm-up trips, messages, seconds) of one measurement; with --seconds, the
    time alone ends it."""
    large = size >= LARGE
    if seconds is not None:
        return 10**9, 20 if large else 200, 10**12, seconds
    if quick:
        return (100, 10, 300, 0.3) if large else (500, 50, 2000, 0.3)
    return (2000, 200, 10000, 2) if large else (10000, 1000, 100000, 2)


def measure(args, mechanisms, sizes, metrics):
    name = "shmbus-bench-python-" + uuid.uuid4().hex[:8]
    segment = shmbus.Segment.create(name, 256 << 20)
    cpus = allowed_cpus(not args.no_pin)
    rows = []
    try:
        for key, _ in mechanisms:
            if args.only and key != args.only:
                continue
            for size in sizes:
                trips, warmup, count, budget = budget_for(size, args.quick, args.seconds)
                if "latency" in metrics:
                    row = {"mechanism": key, "metric": "latency", "size": size}
                    row.update(latency(segment, key, size, trips, warmup, budget, cpus,
                                       args.peer))
                    rows.append(row)
                if "throughput" in metrics:
                    row = {"mechanism": key, "metric": "throughput", "size": size}
                    row.update(throughput(segment, key, size, count, budget, cpus, args.peer))
                    rows.append(row)
    finally:
        shmbus.Segment.unlink(name)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer round trips and messages")
    parser.add_argument("--json", action="store_true", help="print JSON for shmbus bench")
    parser.add_argument("--sizes", default="8,64,1024,65536", help="message sizes in bytes")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to two CPUs")
    parser.add_argument("--peer", help="the C++ peer (build/python/shmbus_python_peer)")
    parser.add_argument("--list", action="store_true", help="only list the mechanisms")
    parser.add_argument("--only", help="only this mechanism key")
    parser.add_argument("--metric", choices=["latency", "throughput"], help="only this metric")
    parser.add_argument("--seconds", type=float,
                        help="each measurement runs this long after its warm-up")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if min(sizes) < 1:
        parser.error("sizes must be at least 1 byte")
    mechanisms = [m for m in MECHANISMS if args.peer or m[0] != "python.shmbus_queue_cpp"]
    metrics = [args.metric] if args.metric else ["latency", "throughput"]
    rows = [] if args.list else measure(args, mechanisms, sizes, metrics)
    doc = {"schema": "shmbus.bench.python", "version": 1,
           "python": f"Python {platform.python_version()}",
           "mechanisms": [{"key": k, "label": label} for k, label in mechanisms], "rows": rows}
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    labels = dict(mechanisms)
    for row in rows:
        what = f"{labels[row['mechanism']]:20} {row['size']:6} B"
        if row["metric"] == "latency":
            print(f"{what}  round trip p50 {row['p50_ns'] / 1e3:8.1f} us  "
                  f"p99 {row['p99_ns'] / 1e3:8.1f} us")
        else:
            rate = row["messages"] / row["seconds"]
            print(f"{what}  {rate:12.0f} msg/s  {rate * row['size'] / 1e6:8.1f} MB/s")


if __name__ == "__main__":
    main()
