// SPDX-License-Identifier: Apache-2.0
#include "support/harness.hpp"
#include "sync/sync_state.hpp"

#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/event.hpp>
#include <shmbus/lock.hpp>
#include <thread>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::eventually;
using shmbus::test::ScopedSegment;
using Clock = std::chrono::steady_clock;

namespace {

const detail::EventState& state_of(const Segment& segment, std::string_view name) {
    return shmbus::test::state_of<detail::EventState>(segment, name, ObjectKind::event);
}

} // namespace

TEST(Event, set_clear_and_is_set) {
    ScopedSegment segment;
    Event event(*segment, "e");
    EXPECT_FALSE(event.is_set());
    event.set();
    EXPECT_TRUE(event.is_set());
    event.set();
    EXPECT_TRUE(event.is_set());
    event.clear();
    EXPECT_FALSE(event.is_set());
    event.clear();
    EXPECT_FALSE(event.is_set());
}

TEST(Event, wait_on_a_clear_event_times_out_after_the_timeout) {
    ScopedSegment segment;
    Event event(*segment, "e");
    for (WaitPolicy policy : {WaitPolicy::spin, WaitPolicy::hybrid, WaitPolicy::block}) {
        event.set_wait_options({policy, 20us});
        const auto start = Clock::now();
        EXPECT_FALSE(event.wait_for(25ms));
        EXPECT_GE(Clock::now() - start, 25ms);
        const auto until = std::chrono::system_clock::now() + 10ms;
        EXPECT_FALSE(event.wait_until(until));
        EXPECT_GE(std::chrono::system_clock::now(), until);
    }
    EXPECT_FALSE(event.wait_for(-1s));
}

TEST(Event, wait_on_a_set_event_returns_at_once) {
    ScopedSegment segment;
    Event event(*segment, "e");
    event.set();
    EXPECT_TRUE(event.wait_for(0s));
    EXPECT_TRUE(event.wait_for(-1s));
    EXPECT_TRUE(event.wait_until(Clock::now()));
    event.wait();
}

TEST(Event, set_wakes_every_parked_waiter) {
    ScopedSegment segment;
    Event event(*segment, "e");
    event.set_wait_options({WaitPolicy::block, 0us});
    const auto& state = state_of(*segment, "e");
    std::atomic<int> woken{0};
    std::vector<std::thread> waiters;
    for (int i = 0; i < 3; ++i)
        waiters.emplace_back([&] {
            Event mine = event;
            if (mine.wait_for(30s))
                ++woken;
        });
    ASSERT_TRUE(eventually([&] { return state.waiters.load() == 3; }));
    event.set();
    for (auto& waiter : waiters)
        waiter.join();
    EXPECT_EQ(woken.load(), 3);
}

TEST(Event, a_waiter_woken_by_set_returns_true_even_if_cleared_first) {
    ScopedSegment segment;
    Event event(*segment, "e");
    event.set_wait_options({WaitPolicy::block, 0us});
    const auto& state = state_of(*segment, "e");
    std::atomic<int> result{-1};
    std::thread waiter([&] { result = event.wait_for(30s) ? 1 : 0; });
    ASSERT_TRUE(eventually([&] { return state.waiters.load() == 1; }));
    event.set();
    event.clear();
    waiter.join();
    EXPECT_EQ(result.load(), 1);
    EXPECT_FALSE(event.is_set());
}

TEST(Event, named_handles_share_the_flag_and_kinds_are_checked) {
    ScopedSegment segment;
    Event a = Event::create(*segment, "e");
    Event b(*segment, "e");
    Event c = Event::open(*segment, "e");
    a.set();
    EXPECT_TRUE(b.is_set());
    c.clear();
    EXPECT_FALSE(a.is_set());
    EXPECT_THROW(Event::create(*segment, "e"), AlreadyExists);
    EXPECT_THROW(Event::open(*segment, "none"), NotFound);
    Lock lock(*segment, "lock");
    EXPECT_THROW(Event::open(*segment, "lock"), KindMismatch);
    Event anonymous;
    EXPECT_FALSE(anonymous.is_set());
}
