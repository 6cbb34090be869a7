// SPDX-License-Identifier: Apache-2.0
// The measurements: round-trip latency and one-way throughput over any Channel between this
// process and a forked peer (pinned to two CPUs when there are two), and memcpy bandwidth.
#pragma once

#include "channels.hpp"
#include "histogram.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace shmbus::bench {

/// At most `round_trips` (or `messages`), stopping early once `budget` has passed and at least
/// kMinimumSamples were taken: a slow mechanism on a loaded machine cannot stretch a run.
inline constexpr std::uint64_t kMinimumSamples = 100;

struct LatencyPlan {
    std::size_t size = 64;
    std::uint64_t round_trips = 10000;
    /// Round trips run first and not recorded (caches, page faults, the peer's first wake-up).
    std::uint64_t warmup = 1000;
    bool pin = true;
    std::chrono::nanoseconds budget = std::chrono::seconds(2);
};

/// Ping-pong: the parent sends a message stamped with its sequence number, the peer echoes it,
/// the parent checks the stamp. Throws when the peer fails or a stamp is wrong.
LatencySummary measure_latency(Channel& channel, const LatencyPlan& plan);

struct ThroughputPlan {
    std::size_t size = 64;
    std::uint64_t messages = 100000;
    bool pin = true;
    std::chrono::nanoseconds budget = std::chrono::seconds(2);
};

struct Throughput {
    std::uint64_t messages = 0;
    double seconds = 0;
    double messages_per_s() const { return static_cast<double>(messages) / seconds; }
};

/// The peer sends `messages` stamped messages as fast as the channel takes them; the parent
/// receives and checks each stamp (order and completeness), timed from the start signal to the
/// last message.
Throughput measure_throughput(Channel& channel, const ThroughputPlan& plan);

/// memcpy of `block`-byte blocks across a `span`-byte buffer (span >= block; a span within the
/// caches measures the copy, 256 MiB measures DRAM), repeated for about `budget`.
Throughput measure_memcpy(std::size_t block, std::size_t span, std::chrono::nanoseconds budget);

/// Nanoseconds on the steady clock.
std::uint64_t now_ns();

} // namespace shmbus::bench
