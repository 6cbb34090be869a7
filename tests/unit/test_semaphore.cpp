// SPDX-License-Identifier: Apache-2.0
#include "support/harness.hpp"
#include "sync/sync_state.hpp"

#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <mutex>
#include <shmbus/errors.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/semaphore.hpp>
#include <thread>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::eventually;
using shmbus::test::ScopedSegment;
using Clock = std::chrono::steady_clock;

namespace {

const detail::SemaphoreState& state_of(const Segment& segment, std::string_view name,
                                       ObjectKind kind) {
    return shmbus::test::state_of<detail::SemaphoreState>(segment, name, kind);
}

} // namespace

TEST(Semaphore, counts_down_to_zero_and_back) {
    ScopedSegment segment;
    Semaphore semaphore(*segment, "s", 3);
    EXPECT_EQ(semaphore.get_value(), 3u);
    EXPECT_TRUE(semaphore.try_acquire());
    EXPECT_TRUE(semaphore.acquire_for(1ms));
    EXPECT_TRUE(semaphore.acquire());
    EXPECT_EQ(semaphore.get_value(), 0u);
    EXPECT_FALSE(semaphore.try_acquire());
    semaphore.release(2);
    EXPECT_EQ(semaphore.get_value(), 2u);
    semaphore.release();
    EXPECT_EQ(semaphore.get_value(), 3u);
}

TEST(Semaphore, timed_acquire_on_zero_waits_at_least_the_timeout) {
    ScopedSegment segment;
    Semaphore semaphore(*segment, "s", 0);
    for (WaitPolicy policy : {WaitPolicy::spin, WaitPolicy::hybrid, WaitPolicy::block}) {
        semaphore.set_wait_options({policy, 20us});
        const auto start = Clock::now();
        EXPECT_FALSE(semaphore.acquire_for(25ms));
        EXPECT_GE(Clock::now() - start, 25ms);
        const auto until = std::chrono::system_clock::now() + 10ms;
        EXPECT_FALSE(semaphore.acquire_until(until));
        EXPECT_GE(std::chrono::system_clock::now(), until);
    }
    EXPECT_FALSE(semaphore.acquire_for(-1s));
    semaphore.release();
    EXPECT_TRUE(semaphore.acquire_for(-1s)) << "negative timeout still tries once";
}

TEST(Semaphore, release_n_wakes_n_parked_waiters) {
    ScopedSegment segment;
    Semaphore semaphore(*segment, "s", 0);
    semaphore.set_wait_options({WaitPolicy::block, 0us});
    const auto& state = state_of(*segment, "s", ObjectKind::semaphore);
    std::atomic<int> acquired{0};
    std::vector<std::thread> waiters;
    for (int i = 0; i < 3; ++i)
        waiters.emplace_back([&] {
            Semaphore mine = semaphore;
            if (mine.acquire_for(30s))
                ++acquired;
        });
    ASSERT_TRUE(eventually([&] { return state.waiters.load() == 3; }));
    semaphore.release(2);
    ASSERT_TRUE(eventually([&] { return acquired.load() == 2; }));
    EXPECT_EQ(semaphore.get_value(), 0u);
    semaphore.release();
    for (auto& waiter : waiters)
        waiter.join();
    EXPECT_EQ(acquired.load(), 3);
    EXPECT_EQ(state.waiters.load(), 0u);
}

TEST(Semaphore, release_of_zero_or_past_the_maximum_is_usage_error) {
    ScopedSegment segment;
    Semaphore semaphore(*segment, "s", Semaphore::kMaxValue - 1);
    EXPECT_THROW(semaphore.release(0), UsageError);
    semaphore.release();
    EXPECT_THROW(semaphore.release(), UsageError);
    EXPECT_EQ(semaphore.get_value(), Semaphore::kMaxValue);
    EXPECT_THROW(Semaphore(*segment, "big", Semaphore::kMaxValue + 1u), UsageError);
    EXPECT_THROW(Semaphore::open(*segment, "big"), NotFound) << "a failed create leaves nothing";
}

TEST(Semaphore, works_as_a_lockable) {
    ScopedSegment segment;
    Semaphore semaphore(*segment, "s", 1);
    {
        std::lock_guard guard(semaphore);
        EXPECT_EQ(semaphore.get_value(), 0u);
    }
    EXPECT_EQ(semaphore.get_value(), 1u);
}

TEST(Semaphore, named_handles_share_the_value_and_open_ignores_it) {
    ScopedSegment segment;
    Semaphore a = Semaphore::create(*segment, "s", 2);
    Semaphore b(*segment, "s", 7);
    Semaphore c = Semaphore::open(*segment, "s");
    EXPECT_EQ(b.get_value(), 2u);
    EXPECT_TRUE(c.try_acquire());
    EXPECT_EQ(a.get_value(), 1u);
    EXPECT_THROW(Semaphore::create(*segment, "s"), AlreadyExists);
    EXPECT_THROW(Semaphore::open(*segment, "none"), NotFound);
    EXPECT_THROW(BoundedSemaphore::open(*segment, "s"), KindMismatch);
    Lock lock(*segment, "lock");
    EXPECT_THROW(Semaphore::open(*segment, "lock"), KindMismatch);
    Semaphore anonymous(0);
    EXPECT_EQ(anonymous.get_value(), 0u);
}

TEST(Semaphore, threads_never_exceed_the_initial_value_inside) {
    ScopedSegment segment;
    Semaphore semaphore(*segment, "s", 2);
    std::atomic<int> inside{0};
    std::atomic<int> most{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 500; ++i) {
                std::lock_guard guard(semaphore);
                const int now = ++inside;
                int seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {
                }
                --inside;
            }
        });
    for (auto& thread : threads)
        thread.join();
    EXPECT_LE(most.load(), 2);
    EXPECT_EQ(semaphore.get_value(), 2u);
}

TEST(BoundedSemaphore, release_above_the_initial_value_is_usage_error) {
    ScopedSegment segment;
    BoundedSemaphore semaphore(*segment, "b", 2);
    EXPECT_THROW(semaphore.release(), UsageError);
    EXPECT_TRUE(semaphore.try_acquire());
    EXPECT_THROW(semaphore.release(2), UsageError) << "partial room is still too little";
    EXPECT_EQ(semaphore.get_value(), 1u) << "a refused release changes nothing";
    semaphore.release();
    EXPECT_EQ(semaphore.get_value(), 2u);
    const auto& state = state_of(*segment, "b", ObjectKind::bounded_semaphore);
    EXPECT_EQ(state.bound, 2u);
    EXPECT_EQ(state.initial, 2u);
}

TEST(BoundedSemaphore, is_a_semaphore_of_its_own_kind) {
    ScopedSegment segment;
    BoundedSemaphore a = BoundedSemaphore::create(*segment, "b", 1);
    BoundedSemaphore b = BoundedSemaphore::open(*segment, "b");
    Semaphore& as_base = b;
    EXPECT_TRUE(as_base.try_acquire());
    EXPECT_EQ(a.get_value(), 0u);
    as_base.release();
    EXPECT_THROW(as_base.release(), UsageError) << "the bound lives in shared memory";
    EXPECT_THROW(Semaphore::open(*segment, "b"), KindMismatch);
    EXPECT_THROW(BoundedSemaphore::create(*segment, "b"), AlreadyExists);
    BoundedSemaphore anonymous;
    EXPECT_THROW(anonymous.release(), UsageError);
}

TEST(BoundedSemaphore, concurrent_releases_never_pass_the_bound) {
    ScopedSegment segment;
    BoundedSemaphore semaphore(*segment, "b", 3);
    while (semaphore.try_acquire()) {
    }
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 2; ++i) {
                try {
                    semaphore.release();
                } catch (const UsageError&) {
                    ++refused;
                }
            }
        });
    for (auto& thread : threads)
        thread.join();
    EXPECT_EQ(semaphore.get_value(), 3u);
    EXPECT_EQ(refused.load(), 5);
}
