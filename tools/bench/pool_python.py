#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Python's multiprocessing.Pool on the rows of pool_bench.cpp: map of 10**6 trivial tasks,
map of 10**3 tasks of ~1 ms busy work, the apply() round trip and pipelined apply_async.

    python3 tools/bench/pool_python.py [--workers N] [--repeat R]
"""
import argparse
import multiprocessing as mp
import os
import time


def square(x):
    return x * x


def busy_ms(x):
    end = time.perf_counter() + 0.001
    spins = 0
    while time.perf_counter() < end:
        spins += 1
    return x + (1 if spins else 0)


def stats(samples):
    samples = sorted(samples)
    rank = lambda p: samples[int(p * (len(samples) - 1))]
    return rank(0.50), rank(0.99)


def time_runs(repeat, fn):
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return stats(samples)


def row(name, measured, baseline, baseline_name):
    print(f"{name:34} p50 {measured[0] * 1e3:10.3f} ms  p99 {measured[1] * 1e3:10.3f} ms   "
          f"({baseline_name} p50 {baseline[0] * 1e3:.3f} ms: x{measured[0] / baseline[0]:.2f})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"Python multiprocessing.Pool, {args.workers} workers, {args.repeat} runs per row")
    with mp.get_context("fork").Pool(args.workers) as pool:
        million = list(range(10**6))
        pool.map(square, million)  # warm-up, as pool_bench.cpp does
        loop = time_runs(args.repeat, lambda: [square(x) for x in million])  # allocates, as map
        mapped = time_runs(args.repeat, lambda: pool.map(square, million))
        row("map square 10^6", mapped, loop, "loop")

        thousand = list(range(1000))
        busy_loop = time_runs(1, lambda: [busy_ms(x) for x in thousand])
        busy_mapped = time_runs(args.repeat, lambda: pool.map(busy_ms, thousand))
        row("map busy 1 ms x 10^3", busy_mapped, busy_loop, "loop")

        trips = []
        for i in range(2000):
            start = time.perf_counter()
            pool.apply(square, (i,))
            trips.append(time.perf_counter() - start)
        trip = stats(trips)
        print(f"{'apply round trip':34} p50 {trip[0] * 1e6:10.3f} us  p99 {trip[1] * 1e6:10.3f} us")

        def pipelined_run():
            results = [pool.apply_async(square, (x,)) for x in range(10_000)]
            for r in results:
                r.get()

        pipelined = time_runs(args.repeat, pipelined_run)
        print(f"{'apply_async x 10^4 pipelined':34} p50 {pipelined[0] * 1e6 / 10_000:10.3f} us  "
              f"p99 {pipelined[1] * 1e6 / 10_000:10.3f} us per task")


if __name__ == "__main__":
    main()
