// SPDX-License-Identifier: Apache-2.0
#include "support/harness.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <gtest/gtest.h>
#include <mutex>
#include <shmbus/barrier.hpp>
#include <shmbus/errors.hpp>
#include <shmbus/lock.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::eventually;
using shmbus::test::ScopedSegment;
using Clock = std::chrono::steady_clock;

namespace {

// Runs `body` on `count` threads and returns what each threw: 0 none, 1 BrokenBarrier.
template <class Body>
std::vector<int> on_threads(int count, Body body) {
    std::vector<int> broke(static_cast<std::size_t>(count), 0);
    std::vector<std::thread> threads;
    for (int i = 0; i < count; ++i)
        threads.emplace_back([&, i] {
            try {
                body(i);
            } catch (const BrokenBarrier&) {
                broke[static_cast<std::size_t>(i)] = 1;
            }
        });
    for (auto& thread : threads)
        thread.join();
    return broke;
}

} // namespace

TEST(Barrier, parties_are_checked) {
    ScopedSegment segment;
    EXPECT_THROW(Barrier(*segment, "b", 0), UsageError);
    Barrier barrier(*segment, "b", 3);
    EXPECT_EQ(barrier.parties(), 3u);
    EXPECT_EQ(Barrier::open(*segment, "b", 3).parties(), 3u);
    EXPECT_THROW(Barrier(*segment, "b", 2), KindMismatch);
    EXPECT_THROW(Barrier::open(*segment, "b", 4), KindMismatch);
    EXPECT_THROW(Barrier::create(*segment, "b", 3), AlreadyExists);
    EXPECT_THROW(Barrier::open(*segment, "none", 3), NotFound);
    Lock lock(*segment, "l");
    EXPECT_THROW(Barrier::open(*segment, "l", 3), KindMismatch);
}

TEST(Barrier, party_counts_below_one_or_beyond_32_bits_are_rejected) {
    ScopedSegment segment;
    EXPECT_THROW(Barrier(-1), UsageError); // was 4294967295 parties
    EXPECT_THROW(Barrier(*segment, "b", -5), UsageError);
    EXPECT_THROW(Barrier::create(*segment, "b", std::int64_t{1} << 32), UsageError);
    EXPECT_THROW(Barrier::open(*segment, "b", 0), UsageError);
    EXPECT_EQ(Barrier(*segment, "b", 0xffffffff).parties(), 0xffffffffu);
}

TEST(Barrier, the_action_runs_once_per_generation_before_anyone_is_released) {
    ScopedSegment segment;
    std::atomic<int> runs{0};
    constexpr int kGenerations = 5;
    Barrier barrier(*segment, "b", 3, [&] { runs.fetch_add(1); });
    EXPECT_TRUE(static_cast<bool>(barrier.action()));
    std::atomic<int> behind{0};
    const auto broke = on_threads(3, [&](int) {
        for (int g = 0; g < kGenerations; ++g) {
            barrier.wait_for(30s);
            if (runs.load() < g + 1)
                behind.fetch_add(1);
        }
    });
    EXPECT_EQ(broke, std::vector<int>(3, 0));
    EXPECT_EQ(runs.load(), kGenerations);
    EXPECT_EQ(behind.load(), 0) << "a party was released before its generation's action ran";
}

TEST(Barrier, an_action_that_throws_reaches_its_caller_and_breaks_the_barrier) {
    ScopedSegment segment;
    Barrier barrier(*segment, "b", 2, [] { throw std::invalid_argument("action failed"); });
    std::thread first([&] { EXPECT_THROW(barrier.wait_for(30s), BrokenBarrier); });
    ASSERT_TRUE(eventually([&] { return barrier.n_waiting() == 1; }));
    EXPECT_THROW(barrier.wait_for(30s), std::invalid_argument);
    first.join();
    EXPECT_TRUE(barrier.broken());
    EXPECT_THROW(barrier.wait(), BrokenBarrier);
    barrier.reset();
    EXPECT_EQ(barrier.n_waiting(), 0u);
}

TEST(Barrier, an_action_may_not_call_back_into_its_barrier) {
    ScopedSegment segment;
    Barrier other(*segment, "b", 1);
    Barrier barrier(*segment, "b", 1, [&] { other.abort(); });
    EXPECT_THROW(barrier.wait(), UsageError);
    EXPECT_TRUE(barrier.broken());
    barrier.reset();
    EXPECT_EQ(other.wait(), 0u) << "a handle without an action passes";
}

TEST(Barrier, the_constructor_timeout_is_the_default_of_wait) {
    ScopedSegment segment;
    Barrier barrier(*segment, "b", 2, {}, 20ms);
    ASSERT_TRUE(barrier.timeout().has_value());
    EXPECT_EQ(*barrier.timeout(), 20ms);
    const auto start = Clock::now();
    EXPECT_THROW(barrier.wait(), BrokenBarrier);
    EXPECT_GE(Clock::now() - start, 20ms);
    EXPECT_TRUE(barrier.broken());
    barrier.reset();
    std::thread first([&] { EXPECT_EQ(barrier.wait_for(30s), 0u) << "an explicit timeout wins"; });
    ASSERT_TRUE(eventually([&] { return barrier.n_waiting() == 1; }));
    EXPECT_EQ(Barrier(*segment, "b", 2).wait(), 1u);
    first.join();
}

TEST(Barrier, one_party_passes_at_once) {
    Barrier barrier(1);
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(barrier.wait(), 0u);
    EXPECT_EQ(barrier.n_waiting(), 0u);
}

TEST(Barrier, threads_get_distinct_indices_over_generations) {
    ScopedSegment segment;
    Barrier barrier(*segment, "b", 3);
    constexpr int kGenerations = 20;
    std::mutex mutex;
    std::vector<std::vector<unsigned>> seen(kGenerations);
    const auto broke = on_threads(3, [&](int) {
        Barrier mine = barrier;
        for (int g = 0; g < kGenerations; ++g) {
            const unsigned index = mine.wait_for(30s);
            std::lock_guard guard(mutex);
            seen[static_cast<std::size_t>(g)].push_back(index);
        }
    });
    EXPECT_EQ(broke, std::vector<int>(3, 0));
    for (auto& indices : seen) {
        std::sort(indices.begin(), indices.end());
        EXPECT_EQ(indices, (std::vector<unsigned>{0, 1, 2}));
    }
    EXPECT_FALSE(barrier.broken());
}

TEST(Barrier, a_timed_out_wait_breaks_the_barrier_until_reset) {
    ScopedSegment segment;
    Barrier barrier(*segment, "b", 2);
    const auto start = Clock::now();
    EXPECT_THROW(barrier.wait_for(20ms), BrokenBarrier);
    EXPECT_GE(Clock::now() - start, 20ms);
    EXPECT_TRUE(barrier.broken());
    EXPECT_THROW(barrier.wait(), BrokenBarrier);
    EXPECT_THROW(barrier.wait_until(std::chrono::system_clock::now() + 1s), BrokenBarrier);
    barrier.reset();
    EXPECT_FALSE(barrier.broken());
    const auto broke = on_threads(2, [&](int) { barrier.wait_for(30s); });
    EXPECT_EQ(broke, std::vector<int>(2, 0));
}

TEST(Barrier, a_zero_timeout_breaks_unless_last) {
    ScopedSegment segment;
    Barrier barrier(*segment, "b", 2);
    EXPECT_THROW(barrier.wait_for(0s), BrokenBarrier);
    barrier.reset();
    std::thread first([&] { EXPECT_EQ(barrier.wait_for(30s), 0u); });
    ASSERT_TRUE(eventually([&] { return barrier.n_waiting() == 1; }));
    EXPECT_EQ(barrier.wait_for(-1s), 1u) << "the last party never waits";
    first.join();
}

TEST(Barrier, timeout_breaks_every_waiter_of_the_generation) {
    ScopedSegment segment;
    Barrier barrier(*segment, "b", 4);
    const auto broke = on_threads(3, [&](int i) {
        if (i == 0) {
            while (barrier.n_waiting() < 2)
                std::this_thread::sleep_for(1ms);
            barrier.wait_for(20ms);
        } else {
            barrier.wait_for(30s);
        }
    });
    EXPECT_EQ(broke, std::vector<int>(3, 1));
    EXPECT_TRUE(barrier.broken());
}

TEST(Barrier, abort_breaks_waiters_and_later_waits) {
    ScopedSegment segment;
    Barrier barrier(*segment, "b", 3);
    barrier.set_wait_options({WaitPolicy::block, 0us});
    std::vector<int> broke;
    std::thread aborter([&] {
        ASSERT_TRUE(eventually([&] { return barrier.n_waiting() == 2; }));
        barrier.abort();
    });
    broke = on_threads(2, [&](int) { barrier.wait(); });
    aborter.join();
    EXPECT_EQ(broke, std::vector<int>(2, 1));
    EXPECT_TRUE(barrier.broken());
    barrier.abort();
    EXPECT_THROW(barrier.wait(), BrokenBarrier);
    barrier.reset();
    EXPECT_FALSE(barrier.broken());
}

TEST(Barrier, reset_with_waiters_breaks_them_and_leaves_the_barrier_usable) {
    ScopedSegment segment;
    Barrier barrier(*segment, "b", 3);
    std::thread resetter([&] {
        ASSERT_TRUE(eventually([&] { return barrier.n_waiting() == 2; }));
        barrier.reset();
    });
    const auto broke = on_threads(2, [&](int) { barrier.wait_for(30s); });
    resetter.join();
    EXPECT_EQ(broke, std::vector<int>(2, 1));
    EXPECT_FALSE(barrier.broken());
    EXPECT_EQ(barrier.n_waiting(), 0u);
    const auto again = on_threads(3, [&](int) { barrier.wait_for(30s); });
    EXPECT_EQ(again, std::vector<int>(3, 0));
}
