// SPDX-License-Identifier: Apache-2.0
// One publisher and N subscriber processes: the round trip (a message out, every subscriber
// answers) and the one-way rate of a shmbus Topic, copying (publish / recv) or lending (loan /
// borrow), and of a Queue with one consumer for the same shape of exchange. Every message
// carries its number; subscribers check order and completeness.
#pragma once

#include "histogram.hpp"
#include "measure.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <shmbus/wait.hpp>
#include <string>

namespace shmbus::bench {

/// What carries the messages out: a Topic copying or lending, or a Queue (one consumer).
enum class FanoutKind : std::uint8_t { topic_copy, topic_loan, queue };

struct FanoutPlan {
    FanoutKind kind = FanoutKind::topic_copy;
    std::size_t size = 64;
    int subscribers = 1;
    /// Pin the publisher and a single subscriber to two CPUs (never several subscribers).
    bool pin = true;
    /// Latency: at most this many round trips after `warmup` (stopping at `budget` once
    /// kMinimumSamples were taken). Throughput: unused.
    std::uint64_t round_trips = 10000;
    /// Round trips (latency) or messages (throughput) sent first and not counted.
    std::uint64_t warmup = 100;
    /// Latency: see round_trips; throughput: how long the publisher sends after the warm-up.
    std::chrono::nanoseconds budget = std::chrono::milliseconds(100);
};

/// Spin while every process has a CPU of its own (the publisher and one subscriber on two
/// CPUs); block beyond, as a spinning waiter would only take the CPU another one needs.
WaitPolicy fanout_wait_policy(int subscribers);

/// "spin", "hybrid" or "block".
std::string wait_policy_name(WaitPolicy policy);

/// Round trips: the publisher sends a numbered message and waits until every subscriber has
/// answered with its number. Throws when a subscriber fails, answers wrong or stops answering.
LatencySummary measure_fanout_latency(const FanoutPlan& plan);

/// The publisher sends numbered messages for `budget`; every subscriber receives all of them
/// in order, and the clock stops when the last subscriber has the last one.
Throughput measure_fanout_throughput(const FanoutPlan& plan);

} // namespace shmbus::bench
