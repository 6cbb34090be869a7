// SPDX-License-Identifier: Apache-2.0
#include "support/harness.hpp"
#include "sync/sync_state.hpp"

#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <mutex>
#include <shmbus/condition.hpp>
#include <shmbus/errors.hpp>
#include <shmbus/event.hpp>
#include <thread>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::eventually;
using shmbus::test::ScopedSegment;
using Clock = std::chrono::steady_clock;

namespace {

const detail::ConditionState& state_of(const Segment& segment, std::string_view name) {
    return shmbus::test::state_of<detail::ConditionState>(segment, name, ObjectKind::condition);
}

} // namespace

TEST(Condition, wait_and_notify_without_the_lock_are_usage_errors) {
    ScopedSegment segment;
    Condition condition(*segment, "c");
    EXPECT_THROW(condition.wait(), UsageError);
    EXPECT_THROW((void)condition.wait_for(1ms), UsageError);
    EXPECT_THROW(condition.notify(), UsageError);
    EXPECT_THROW(condition.notify_all(), UsageError);
    EXPECT_THROW(condition.release(), UsageError);
    Lock lock(*segment, "l");
    Condition over_lock(lock);
    EXPECT_THROW(over_lock.wait(), UsageError);
    EXPECT_THROW(over_lock.notify(), UsageError);
}

TEST(Condition, timed_wait_returns_false_with_the_lock_held_again) {
    ScopedSegment segment;
    Condition condition(*segment, "c");
    for (WaitPolicy policy : {WaitPolicy::spin, WaitPolicy::hybrid, WaitPolicy::block}) {
        condition.set_wait_options({policy, 20us});
        std::lock_guard guard(condition);
        const auto start = Clock::now();
        EXPECT_FALSE(condition.wait_for(25ms));
        EXPECT_GE(Clock::now() - start, 25ms);
        EXPECT_FALSE(condition.wait_until(std::chrono::system_clock::now() + 5ms));
        EXPECT_FALSE(condition.wait_for(10ms, [] { return false; }));
        EXPECT_TRUE(condition.wait_for(10ms, [] { return true; }));
    }
    EXPECT_THROW(condition.release(), UsageError) << "the guard released the only level";
}

TEST(Condition, wait_restores_every_recursion_level_of_its_rlock) {
    ScopedSegment segment;
    Condition condition(*segment, "c");
    condition.acquire();
    condition.acquire();
    std::atomic<bool> other_got_it{false};
    std::thread other([&] {
        std::lock_guard guard(condition);
        other_got_it = true;
        condition.notify();
    });
    EXPECT_TRUE(condition.wait_for(30s, [&] { return other_got_it.load(); }));
    other.join();
    condition.release();
    condition.release();
    EXPECT_THROW(condition.release(), UsageError);
}

TEST(Condition, producer_consumer_threads_with_predicates) {
    ScopedSegment segment;
    Condition condition(*segment, "c");
    int items = 0;
    int consumed = 0;
    std::thread consumer([&] {
        for (int i = 0; i < 200; ++i) {
            std::lock_guard guard(condition);
            condition.wait([&] { return items > 0; });
            --items;
            ++consumed;
        }
    });
    for (int i = 0; i < 200; ++i) {
        std::lock_guard guard(condition);
        ++items;
        condition.notify();
    }
    consumer.join();
    EXPECT_EQ(consumed, 200);
    EXPECT_EQ(items, 0);
}

TEST(Condition, notify_wakes_at_most_n_parked_waiters_and_notify_all_the_rest) {
    ScopedSegment segment;
    Condition condition(*segment, "c");
    condition.set_wait_options({WaitPolicy::block, 0us});
    const auto& state = state_of(*segment, "c");
    std::atomic<int> woken{0};
    std::vector<std::thread> waiters;
    for (int i = 0; i < 3; ++i)
        waiters.emplace_back([&] {
            Condition mine = condition;
            std::lock_guard guard(mine);
            if (mine.wait_for(30s))
                ++woken;
        });
    ASSERT_TRUE(eventually([&] { return state.waiters.load() == 3; }));
    {
        std::lock_guard guard(condition);
        condition.notify(1);
    }
    ASSERT_TRUE(eventually([&] { return woken.load() == 1; }));
    ASSERT_TRUE(eventually([&] { return state.waiters.load() == 2; }));
    EXPECT_EQ(woken.load(), 1);
    {
        std::lock_guard guard(condition);
        condition.notify_all();
    }
    for (auto& waiter : waiters)
        waiter.join();
    EXPECT_EQ(woken.load(), 3);
}

TEST(Condition, over_a_lock_shares_it_with_openers_by_name) {
    ScopedSegment segment;
    Lock lock(*segment, "l");
    Condition condition = Condition::create(*segment, "c", lock);
    Condition opened = Condition::open(*segment, "c");
    opened.acquire();
    EXPECT_TRUE(lock.locked());
    EXPECT_FALSE(condition.try_acquire());
    EXPECT_FALSE(opened.wait_for(5ms));
    EXPECT_TRUE(lock.locked());
    condition.release();
    EXPECT_FALSE(lock.locked());
    EXPECT_EQ(state_of(*segment, "c").lock_kind, ObjectKind::lock);
    Condition again(*segment, "c", lock);
    EXPECT_TRUE(again.try_acquire());
    again.release();
}

TEST(Condition, over_an_rlock_shares_it_with_openers_by_name) {
    ScopedSegment segment;
    RLock rlock(*segment, "r");
    Condition condition(*segment, "c", rlock);
    Condition opened = Condition::open(*segment, "c");
    rlock.acquire();
    EXPECT_TRUE(opened.try_acquire()) << "same RLock, same owner thread: recursion";
    EXPECT_FALSE(opened.wait_for(5ms));
    opened.release();
    rlock.release();
    std::thread([&] {
        EXPECT_TRUE(opened.try_acquire());
        opened.release();
    }).join();
}

TEST(Condition, own_rlock_is_found_by_openers_by_name) {
    ScopedSegment segment;
    Condition a(*segment, "c");
    Condition b = Condition::open(*segment, "c");
    a.acquire();
    std::thread([&] { EXPECT_FALSE(b.try_acquire()); }).join();
    a.release();
    EXPECT_EQ(state_of(*segment, "c").lock_offset, 0u);
}

TEST(Condition, lock_mismatches_and_kinds_are_checked) {
    ScopedSegment segment;
    ScopedSegment other;
    Lock lock(*segment, "l");
    Lock foreign(*other, "l");
    Condition own(*segment, "own");
    Condition::create(*segment, "over", lock);
    EXPECT_THROW(Condition(*segment, "x", foreign), UsageError);
    EXPECT_THROW(Condition(*segment, "own", lock), KindMismatch);
    EXPECT_THROW(Condition(*segment, "over", RLock(*segment, "r")), KindMismatch);
    EXPECT_THROW(Condition::create(*segment, "own"), AlreadyExists);
    EXPECT_THROW(Condition::open(*segment, "none"), NotFound);
    EXPECT_THROW(Condition::open(*segment, "l"), KindMismatch);
    Condition anonymous;
    Condition anonymous_over(foreign);
    anonymous_over.acquire();
    EXPECT_TRUE(foreign.locked());
    anonymous_over.release();
}
