// SPDX-License-Identifier: Apache-2.0
// The measurements: round-trip latency and one-way throughput over any Channel between this
// process and a forked peer (pinned to two CPUs when there are two), and memcpy bandwidth.
#pragma once

#include "channels.hpp"
#include "histogram.hpp"
#include "processes.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace shmbus::bench {

/// At most `round_trips` (or `messages`), stopping early once `budget` has passed since the
/// warm-up and at least kMinimumSamples were taken: a slow mechanism on a loaded machine cannot
/// stretch a run.
inline constexpr std::uint64_t kMinimumSamples = 100;

struct LatencyPlan {
    std::size_t size = 64;
    std::uint64_t round_trips = 10000;
    /// Round trips run first and not recorded (caches, page faults, the peer's first wake-up).
    std::uint64_t warmup = 1000;
    bool pin = true;
    std::chrono::nanoseconds budget = std::chrono::seconds(2);
    /// measure_latency_interleaved: round trips per turn of a channel.
    std::uint64_t chunk = 512;
};

/// Ping-pong: the parent sends a message stamped with its sequence number, the peer echoes it,
/// the parent checks the stamp. Throws when the peer fails or a stamp is wrong.
LatencySummary measure_latency(Channel& channel, const LatencyPlan& plan);

/// The same over several channels between one pair of processes, taking turns in chunks of
/// `plan.chunk` round trips (the peer follows the same schedule), so that every channel is
/// measured through the same machine states: `round_trips` and `warmup` are per channel (in
/// whole chunks); the first eighth of each turn settles the switch and is not recorded; the
/// budget stops all of them together once each has kMinimumSamples. One summary per channel.
std::vector<LatencySummary> measure_latency_interleaved(const std::vector<Channel*>& channels,
                                                        const LatencyPlan& plan);

struct ThroughputPlan {
    std::size_t size = 64;
    std::uint64_t messages = 100000;
    bool pin = true;
    std::chrono::nanoseconds budget = std::chrono::seconds(2);
    /// Messages received before the clock starts (caches, page faults, the first wake-ups);
    /// not counted in the result.
    std::uint64_t warmup = 0;
};

struct Throughput {
    std::uint64_t messages = 0;
    double seconds = 0;
    double messages_per_s() const { return static_cast<double>(messages) / seconds; }
};

/// The peer sends `warmup + messages` stamped messages as fast as the channel takes them; the
/// parent receives and checks each stamp (order and completeness), timed from the last warm-up
/// message to the last message.
Throughput measure_throughput(Channel& channel, const ThroughputPlan& plan);

/// A memcpy source and destination of `span` bytes each, in one page-aligned mapping, the
/// destination half a page past a page multiple from the source: 64-byte aligned and never
/// 4 KiB-aliased (glibc's `rep movsb` runs ~15x slower when the destination lies just past the
/// source modulo 4 KiB). Every page is touched once here, so no measurement takes page faults.
class CopyBuffers {
public:
    explicit CopyBuffers(std::size_t span);
    std::byte* source() const { return m_memory.data(); }
    std::byte* destination() const { return m_memory.data() + m_destination; }
    std::size_t span() const { return m_span; }

private:
    std::size_t m_span;
    std::size_t m_destination;
    AlignedBytes m_memory;
};

/// memcpy of `block`-byte blocks from one end of `buffers` to the other, walking the span in
/// order (a span within the caches measures the copy; one well beyond the last-level cache
/// measures DRAM), for about `budget`.
Throughput measure_memcpy(const CopyBuffers& buffers, std::size_t block,
                          std::chrono::nanoseconds budget);
/// The same over fresh buffers of `span` bytes (span >= block).
Throughput measure_memcpy(std::size_t block, std::size_t span, std::chrono::nanoseconds budget);

/// The largest CPU cache of CPU 0 in bytes (from /sys/devices/system/cpu/cpu0/cache), 0 when
/// unknown.
std::size_t last_level_cache_bytes();

/// Nanoseconds on the steady clock.
std::uint64_t now_ns();

} // namespace shmbus::bench
