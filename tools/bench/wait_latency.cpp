// SPDX-License-Identifier: Apache-2.0
// wait_latency: the wake-up latency of shmbus::wait on 1, 8 and 64 Queues next to a single
// Queue get, in the same run. Another process stamps the time, puts the stamp into one queue
// (the last of the list: every object is looked at) and waits for an acknowledgement; the
// waiter records the time from the stamp until wait (or get) returned. The peer lets the
// waiter settle for a gap first, so that under the block and hybrid policies it is parked in
// the kernel when the message comes: the figure is a futex wake-up, not a spin.
//
//   bench_wait_latency [rounds]      default 5000
#include "histogram.hpp"
#include "measure.hpp"
#include "processes.hpp"

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <shmbus/multi_wait.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/semaphore.hpp>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using namespace shmbus::bench;

// How long the peer waits after the acknowledgement before it stamps and puts: longer than the
// hybrid policy's 20 us spin, so the waiter is parked.
constexpr std::uint64_t kGapNs = 100'000;

void spin_for_ns(std::uint64_t ns) {
    const std::uint64_t until = now_ns() + ns;
    while (now_ns() < until) {
    }
}

// `objects` queues (0: a plain get on one queue) under `policy`; returns the wake-ups.
LatencySummary wake_up(shmbus::Segment& segment, std::size_t objects, shmbus::WaitPolicy policy,
                       std::uint64_t rounds, const std::string& tag) {
    const shmbus::WaitOptions wait{.policy = policy};
    const std::size_t count = objects == 0 ? 1 : objects;
    std::vector<std::unique_ptr<shmbus::Queue<std::uint64_t>>> queues;
    for (std::size_t i = 0; i < count; ++i)
        queues.push_back(std::make_unique<shmbus::Queue<std::uint64_t>>(
            segment, tag + "-q" + std::to_string(i),
            shmbus::QueueOptions{.max_message_size = 64, .wait = wait}));
    shmbus::Semaphore ack(segment, tag + "-ack", 0);
    ack.set_wait_options(wait);
    shmbus::Queue<std::uint64_t>& target = *queues.back();
    CpuPin cpu(0, true);
    Peer peer(
        [&] {
            for (std::uint64_t i = 0; i < rounds; ++i) {
                spin_for_ns(kGapNs);
                target.put(now_ns());
                ack.acquire();
            }
        },
        true);
    std::vector<shmbus::Waitable> list;
    for (auto& queue : queues)
        list.emplace_back(*queue);
    Histogram histogram;
    for (std::uint64_t i = 0; i < rounds; ++i) {
        std::uint64_t stamp = 0;
        if (objects == 0) {
            stamp = target.get();
        } else {
            (void)shmbus::wait(list, wait);
            const std::uint64_t woke = now_ns();
            stamp = target.get_nowait();
            histogram.record(woke - stamp);
            ack.release();
            continue;
        }
        histogram.record(now_ns() - stamp);
        ack.release();
    }
    peer.join();
    return summarize(histogram);
}

void report(const char* policy, const char* what, const LatencySummary& p,
            const LatencySummary& get) {
    std::printf("%-7s %-26s p50 %8llu ns  p99 %8llu ns  p50 = %5.2fx get\n", policy, what,
                static_cast<unsigned long long>(p.p50), static_cast<unsigned long long>(p.p99),
                static_cast<double>(p.p50) / static_cast<double>(get.p50));
}

} // namespace

int main(int argc, char** argv) {
    int rounds = 5000;
    CLI::App app{"wait_latency: the wake-up latency of shmbus::wait on 1, 8 and 64 queues next "
                 "to a single Queue get",
                 "bench_wait_latency"};
    app.add_option("rounds", rounds, "Wake-ups per row")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    const auto n = static_cast<std::uint64_t>(rounds);
    const std::string name = "shmbus-bench-wait-" + std::to_string(getpid());
    auto segment = shmbus::Segment::create(name, 32 << 20);
    std::printf("one-way wake-up: another process puts into one queue %llu us after the "
                "waiter started waiting (%d rounds per row)\n",
                static_cast<unsigned long long>(kGapNs / 1000), rounds);
    const struct {
        const char* name;
        shmbus::WaitPolicy policy;
    } policies[] = {{"block", shmbus::WaitPolicy::block}, {"hybrid", shmbus::WaitPolicy::hybrid}};
    for (const auto& policy : policies) {
        const std::string tag = policy.name;
        const LatencySummary get = wake_up(segment, 0, policy.policy, n, tag + "-get");
        report(policy.name, "Queue get, 1 queue", get, get);
        for (const std::size_t objects : {1, 8, 64}) {
            const std::string what =
                "wait on " + std::to_string(objects) + (objects == 1 ? " queue" : " queues");
            report(policy.name, what.c_str(),
                   wake_up(segment, objects, policy.policy, n, tag + std::to_string(objects)), get);
        }
    }
    shmbus::Segment::unlink(name);
    return 0;
}
