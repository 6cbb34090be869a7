// SPDX-License-Identifier: Apache-2.0
// sync_latency: what Lock, RLock and Semaphore cost, next to a pipe(2) round trip and the raw
// cache-line ping-pong measured in the same run (absolute figures vary with the VM's placement;
// the ratios are the claim). The two processes, the floor and pipe(2) come from the shared
// harness (tools/bench/harness), as in `shmbus bench`.
//
//   bench_sync_latency [round_trips]      default 100000
#include "channels.hpp"
#include "histogram.hpp"
#include "measure.hpp"
#include "processes.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <shmbus/lock.hpp>
#include <shmbus/semaphore.hpp>
#include <string>
#include <unistd.h>

namespace {

using namespace shmbus::bench;

void report(const char* what, const LatencySummary& p, const LatencySummary& pipe,
            const LatencySummary& floor) {
    std::printf("%-44s p50 %9llu ns  p99 %9llu ns  p50 = %6.2fx pipe  %7.1fx floor\n", what,
                static_cast<unsigned long long>(p.p50), static_cast<unsigned long long>(p.p99),
                static_cast<double>(p.p50) / static_cast<double>(pipe.p50),
                static_cast<double>(p.p50) / static_cast<double>(floor.p50));
}

template <class Fn>
double ns_per_op(int iterations, Fn fn) {
    const std::uint64_t start = now_ns();
    for (int i = 0; i < iterations; ++i)
        fn();
    return static_cast<double>(now_ns() - start) / iterations;
}

LatencySummary baseline(const char* key, std::uint64_t trips) {
    for (const Mechanism& mechanism : channel_mechanisms())
        if (mechanism.key == key)
            return measure_latency(*mechanism.open(1), {1, trips, trips / 10, true});
    std::fprintf(stderr, "no mechanism %s\n", key);
    std::exit(1);
}

LatencySummary semaphore_round_trip(std::uint64_t trips, shmbus::Segment& segment,
                                    shmbus::WaitPolicy policy, const std::string& tag) {
    shmbus::Semaphore ping(segment, "ping-" + tag, 0);
    shmbus::Semaphore pong(segment, "pong-" + tag, 0);
    ping.set_wait_options({policy});
    pong.set_wait_options({policy});
    CpuPin cpu(0, true);
    Peer peer(
        [&] {
            for (std::uint64_t i = 0; i < trips; ++i) {
                ping.acquire();
                pong.release();
            }
        },
        true);
    Histogram histogram;
    for (std::uint64_t i = 0; i < trips; ++i) {
        const std::uint64_t start = now_ns();
        ping.release();
        pong.acquire();
        histogram.record(now_ns() - start);
    }
    peer.join();
    return summarize(histogram);
}

// Two processes take turns at one lock as fast as they can; returns ns per acquire+release.
template <class LockType>
double contended(int iterations, LockType& lock) {
    CpuPin cpu(0, true);
    Peer peer(
        [&] {
            for (int i = 0; i < iterations; ++i) {
                lock.acquire();
                lock.release();
            }
        },
        true);
    const double ns = ns_per_op(iterations, [&] {
        lock.acquire();
        lock.release();
    });
    peer.join();
    return ns;
}

} // namespace

int main(int argc, char** argv) {
    int trips = 100000;
    CLI::App app{"sync_latency: what Lock, RLock and Semaphore cost, next to a pipe(2) round "
                 "trip and the raw cache-line ping-pong",
                 "bench_sync_latency"};
    app.add_option("round_trips", trips, "Round trips per row")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    const auto round_trips = static_cast<std::uint64_t>(trips);
    const std::string name = "shmbus-bench-sync-" + std::to_string(getpid());
    auto segment = shmbus::Segment::create(name, 8 << 20);

    const LatencySummary floor = baseline("floor", round_trips);
    const LatencySummary pipe = baseline("pipe2", round_trips);
    std::printf("round trips between two processes pinned to two CPUs (%d each)\n", trips);
    report("raw cache-line ping-pong (the floor)", floor, pipe, floor);
    report("pipe(2), 1 byte each way", pipe, pipe, floor);
    report("Semaphore pair, policy spin",
           semaphore_round_trip(round_trips, segment, shmbus::WaitPolicy::spin, "spin"), pipe,
           floor);
    report("Semaphore pair, policy hybrid (default)",
           semaphore_round_trip(round_trips, segment, shmbus::WaitPolicy::hybrid, "hybrid"), pipe,
           floor);
    report("Semaphore pair, policy block (futex wake)",
           semaphore_round_trip(round_trips, segment, shmbus::WaitPolicy::block, "block"), pipe,
           floor);

    const int ops = trips * 10;
    shmbus::Lock lock(segment, "lock");
    shmbus::RLock rlock(segment, "rlock");
    shmbus::Semaphore semaphore(segment, "semaphore", 1);
    std::printf("\nacquire + release, ns per pair (%d pairs)\n", ops);
    std::printf("%-44s %8.1f ns\n", "Lock, uncontended", ns_per_op(ops, [&] {
                    lock.acquire();
                    lock.release();
                }));
    std::printf("%-44s %8.1f ns\n", "RLock, uncontended", ns_per_op(ops, [&] {
                    rlock.acquire();
                    rlock.release();
                }));
    std::printf("%-44s %8.1f ns\n", "Semaphore(1), uncontended", ns_per_op(ops, [&] {
                    semaphore.acquire();
                    semaphore.release();
                }));
    std::printf("%-44s %8.1f ns\n", "Lock, 2 processes contending", contended(ops / 10, lock));
    std::printf("%-44s %8.1f ns\n", "RLock, 2 processes contending", contended(ops / 10, rlock));
    std::printf("%-44s %8.1f ns\n", "Semaphore(1), 2 processes contending",
                contended(ops / 10, semaphore));
    shmbus::Segment::unlink(name);
}
