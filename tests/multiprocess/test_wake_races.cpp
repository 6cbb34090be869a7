// SPDX-License-Identifier: Apache-2.0
// The fence-free wakers (core/wait/notify.hpp: wake_after_claim for Queue, the membarrier pair
// for Pipe) under parking on every message: two processes ping-pong with waiters that park at
// once, so every put, get, send and recv races a registration. A lost wake-up would stall a
// round trip until the next probe (50 ms); data must arrive whole and in order throughout.
#include "support/harness.hpp"

#include <chrono>
#include <cstdint>
#include <gtest/gtest.h>
#include <shmbus/pipe.hpp>
#include <shmbus/queue.hpp>
#include <string>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;

namespace {

constexpr int kRoundTrips = 3000;

WaitOptions parks_at_once(WaitPolicy policy) {
    return {.policy = policy, .spin_for = std::chrono::nanoseconds(0)};
}

class WakeRaces : public ::testing::TestWithParam<WaitPolicy> {};

TEST_P(WakeRaces, a_queue_ping_pong_whose_waiters_park_every_time_loses_nothing) {
    ScopedSegment segment;
    const QueueOptions options{.max_message_size = 256, .wait = parks_at_once(GetParam())};
    Queue<std::uint64_t> ping(*segment, "ping", options);
    Queue<std::string> pong(*segment, "pong", options);
    Child echo([&] {
        for (int i = 0; i < kRoundTrips; ++i)
            pong.put(std::to_string(ping.get_for(30s)));
    });
    for (std::uint64_t i = 0; i < kRoundTrips; ++i) {
        ping.put(i);
        ASSERT_EQ(pong.get_for(30s), std::to_string(i));
    }
    EXPECT_EQ(echo.wait(), 0);
}

TEST_P(WakeRaces, a_full_queue_whose_putter_parks_every_time_loses_nothing) {
    ScopedSegment segment;
    const QueueOptions options{
        .max_message_size = 64, .capacity_bytes = 256, .wait = parks_at_once(GetParam())};
    Queue<std::uint64_t> q(*segment, "q", options);
    Child producer([&] {
        for (std::uint64_t i = 0; i < 4 * kRoundTrips; ++i)
            q.put_for(i, 30s);
    });
    for (std::uint64_t i = 0; i < 4 * kRoundTrips; ++i)
        ASSERT_EQ(q.get_for(30s), i);
    EXPECT_EQ(producer.wait(), 0);
}

TEST_P(WakeRaces, a_pipe_ping_pong_whose_waiters_park_every_time_loses_nothing) {
    ScopedSegment segment;
    auto [left, right] =
        Pipe(*segment, true, PipeOptions{.capacity_bytes = 256, .wait = parks_at_once(GetParam())});
    Child echo([&] {
        for (int i = 0; i < kRoundTrips; ++i)
            right.send(right.recv_for<std::uint64_t>(30s) + 1);
    });
    for (std::uint64_t i = 0; i < kRoundTrips; ++i) {
        left.send(i);
        ASSERT_EQ(left.recv_for<std::uint64_t>(30s), i + 1);
    }
    EXPECT_EQ(echo.wait(), 0);
}

TEST_P(WakeRaces, a_pipe_streamed_through_a_small_ring_loses_nothing) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(
        *segment, false, PipeOptions{.capacity_bytes = 128, .wait = parks_at_once(GetParam())});
    Child producer([&] {
        for (std::uint64_t i = 0; i < 4 * kRoundTrips; ++i)
            writer.send(std::vector<std::uint64_t>(1 + i % 5, i));
    });
    for (std::uint64_t i = 0; i < 4 * kRoundTrips; ++i)
        ASSERT_EQ(reader.recv_for<std::vector<std::uint64_t>>(30s),
                  std::vector<std::uint64_t>(1 + i % 5, i));
    EXPECT_EQ(producer.wait(), 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, WakeRaces,
                         ::testing::Values(WaitPolicy::hybrid, WaitPolicy::block),
                         [](const auto& info) {
                             return info.param == WaitPolicy::block ? "block" : "hybrid";
                         });

} // namespace
