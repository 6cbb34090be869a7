// SPDX-License-Identifier: Apache-2.0
// Queue<T>, SimpleQueue<T> and JoinableQueue<T> within one process (threads for blocking).
#include "support/checked_message.hpp"
#include "support/harness.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <gtest/gtest.h>
#include <map>
#include <shmbus/errors.hpp>
#include <shmbus/joinable_queue.hpp>
#include <shmbus/queue.hpp>
#include <string>
#include <thread>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::ScopedSegment;

namespace {

using Clock = std::chrono::steady_clock;

QueueOptions small(std::size_t maxsize = 0) {
    return QueueOptions{.maxsize = maxsize, .max_message_size = 4096, .capacity_bytes = 16384};
}

} // namespace

TEST(Queue, put_then_get_returns_items_in_order) {
    ScopedSegment segment;
    Queue<int> q(*segment, "", small());
    for (int i = 0; i < 100; ++i)
        q.put(i);
    EXPECT_EQ(q.qsize(), 100u);
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(q.get(), i);
    EXPECT_TRUE(q.empty());
}

TEST(Queue, carries_strings_vectors_and_maps) {
    ScopedSegment segment;
    Queue<std::map<std::string, std::vector<int>>> q(*segment, "", small());
    const std::map<std::string, std::vector<int>> value = {{"a", {1, 2}}, {"", {}}};
    q.put(value);
    EXPECT_EQ(q.get(), value);
}

TEST(Queue, nowait_forms_raise_full_and_empty) {
    ScopedSegment segment;
    Queue<int> q(*segment, "", small(2));
    EXPECT_THROW(q.get_nowait(), Empty);
    q.put_nowait(1);
    q.put_nowait(2);
    EXPECT_TRUE(q.full());
    EXPECT_THROW(q.put_nowait(3), Full);
    EXPECT_FALSE(q.try_put(3));
    EXPECT_EQ(q.get_nowait(), 1);
    EXPECT_TRUE(q.try_put(3));
    EXPECT_EQ(q.try_get(), 2);
    EXPECT_EQ(q.try_get(), 3);
    EXPECT_EQ(q.try_get(), std::nullopt);
}

TEST(Queue, timed_forms_wait_at_least_the_timeout) {
    ScopedSegment segment;
    Queue<int> q(*segment, "", small(1));
    auto start = Clock::now();
    EXPECT_THROW(q.get_for(100ms), Empty);
    EXPECT_GE(Clock::now() - start, 100ms);
    q.put(1);
    start = Clock::now();
    EXPECT_THROW(q.put_for(2, 100ms), Full);
    EXPECT_GE(Clock::now() - start, 100ms);
    EXPECT_THROW(q.put_until(2, Clock::now() - 1s), Full); // past deadline: try once
    EXPECT_EQ(q.get_until(Clock::now() + 1s), 1);
    EXPECT_THROW(q.get_for(-5ms), Empty);
}

TEST(Queue, unbounded_queue_is_full_only_when_the_ring_is) {
    ScopedSegment segment;
    Queue<std::array<char, 64>> q(*segment, "", small()); // 256 one-slot items fit
    std::size_t n = 0;
    while (q.try_put({}))
        ++n;
    EXPECT_EQ(n, 256u);
    EXPECT_TRUE(q.full());
    EXPECT_THROW(q.put_nowait({}), Full);
}

TEST(Queue, default_capacity_holds_maxsize_small_items) {
    ScopedSegment segment;
    Queue<int> q(*segment, "", QueueOptions{.maxsize = 300, .max_message_size = 1024});
    std::size_t n = 0;
    while (q.try_put(static_cast<int>(n)) && n < 1000)
        ++n;
    EXPECT_EQ(n, 300u);
    EXPECT_TRUE(q.full());
}

TEST(Queue, close_refuses_puts_and_lets_gets_drain) {
    ScopedSegment segment;
    Queue<int> q(*segment, "", small());
    q.put(1);
    q.put(2);
    q.close();
    EXPECT_TRUE(q.closed());
    EXPECT_THROW(q.put(3), Closed);
    EXPECT_THROW(q.put_nowait(3), Closed);
    EXPECT_FALSE(q.try_put(3));
    EXPECT_EQ(q.get(), 1);
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_THROW(q.get(), Closed);
    EXPECT_THROW(q.get_for(10ms), Closed);
    EXPECT_EQ(q.try_get(), std::nullopt);
}

TEST(Queue, close_wakes_a_blocked_getter) {
    ScopedSegment segment;
    Queue<int> q(*segment, "", small());
    q.set_wait_options({WaitPolicy::block, {}});
    std::thread closer([&] {
        std::this_thread::sleep_for(50ms);
        q.close();
    });
    EXPECT_THROW(q.get(), Closed);
    closer.join();
}

TEST(Queue, oversize_message_is_refused_and_the_queue_stays_usable) {
    ScopedSegment segment;
    Queue<std::string> q(*segment, "", small());
    EXPECT_EQ(q.max_message_size(), 4096u);
    EXPECT_THROW(q.put(std::string(5000, 'x')), MessageTooLarge);
    EXPECT_THROW((void)q.try_put(std::string(5000, 'x')), MessageTooLarge);
    const std::string biggest(4096 - 8, 'y'); // cereal: 8-byte length prefix
    q.put(biggest);
    q.put("after");
    EXPECT_EQ(q.get(), biggest);
    EXPECT_EQ(q.get(), "after");
}

TEST(Queue, default_options_take_a_one_mebibyte_message) {
    ScopedSegment segment(std::size_t{8} << 20);
    Queue<std::vector<char>> q(*segment, "big");
    EXPECT_EQ(q.max_message_size(), std::size_t{1} << 20);
    const std::vector<char> big((std::size_t{1} << 20) - 8, 'z');
    q.put(big);
    q.put(big);
    EXPECT_EQ(q.get(), big);
    EXPECT_EQ(q.get(), big);
}

TEST(Queue, capacity_smaller_than_one_message_is_a_usage_error) {
    ScopedSegment segment;
    EXPECT_THROW(
        Queue<int>(*segment, "", QueueOptions{.max_message_size = 8192, .capacity_bytes = 4096}),
        UsageError);
    EXPECT_THROW(Queue<int>(*segment, "", QueueOptions{.max_message_size = 0}), UsageError);
}

TEST(Queue, named_queue_is_shared_by_handles_and_checked_on_open) {
    ScopedSegment segment;
    auto a = Queue<int>::create(*segment, "jobs", small());
    EXPECT_THROW(Queue<int>::create(*segment, "jobs", small()), AlreadyExists);
    auto b = Queue<int>::open(*segment, "jobs");
    Queue<int> c(*segment, "jobs", QueueOptions{}); // open_or_create keeps the creator's options
    EXPECT_EQ(c.max_message_size(), 4096u);
    a.put(7);
    EXPECT_EQ(b.get(), 7);
    EXPECT_THROW(Queue<std::string>::open(*segment, "jobs"), KindMismatch);
    EXPECT_THROW(Queue<int>::open(*segment, "missing"), NotFound);
    EXPECT_THROW(JoinableQueue<int>::open(*segment, "jobs"), KindMismatch);
}

TEST(Queue, decode_error_for_a_message_of_another_type) {
    ScopedSegment segment;
    Queue<std::string> strings(*segment, "mixed", small());
    strings.put("abc");
    // Same codec kind, size and alignment as std::string, so the open succeeds; the bytes
    // ([u64 3]["abc"]) do not decode as one.
    using Other = std::pair<std::uint64_t, std::vector<char>>;
    static_assert(detail::type_tag<Other>() == detail::type_tag<std::string>());
    Queue<Other> others(*segment, "mixed");
    EXPECT_THROW(others.get(), DecodeError);
    strings.put("still usable");
    EXPECT_EQ(strings.get(), "still usable");
}

// get, get_for, get_nowait and try_get copy a trivially copyable item out of the ring straight
// into the one they return; frames of 3000 bytes in a 16 KiB ring often wrap its end.
TEST(Queue, a_large_plain_item_comes_out_whole_through_every_get_across_the_ring_end) {
    ScopedSegment segment;
    using Block = std::array<std::uint8_t, 3000>;
    Queue<Block> q(*segment, "", small());
    const auto block_for = shmbus::test::patterned_block<3000>;
    for (int i = 0; i < 40; ++i) {
        q.put(block_for(i));
        switch (i % 4) {
        case 0:
            ASSERT_EQ(q.get(), block_for(i)) << i;
            break;
        case 1:
            ASSERT_EQ(q.get_for(10s), block_for(i)) << i;
            break;
        case 2:
            ASSERT_EQ(q.get_nowait(), block_for(i)) << i;
            break;
        default:
            ASSERT_EQ(q.try_get(), block_for(i)) << i;
            break;
        }
    }
    EXPECT_FALSE(q.try_get().has_value());
    EXPECT_THROW((void)q.get_for(5ms), Empty);
    EXPECT_THROW((void)q.get_nowait(), Empty);
    q.close();
    EXPECT_THROW((void)q.get_for(5ms), Closed);
}

TEST(Queue, every_wait_policy_passes_items_between_threads) {
    for (WaitPolicy policy : {WaitPolicy::spin, WaitPolicy::hybrid, WaitPolicy::block}) {
        ScopedSegment segment;
        Queue<int> q(*segment, "", small(4));
        q.set_wait_options({policy, std::chrono::microseconds(20)});
        EXPECT_EQ(q.wait_options().policy, policy);
        std::thread producer([&] {
            for (int i = 0; i < 2000; ++i)
                q.put(i);
        });
        for (int i = 0; i < 2000; ++i)
            ASSERT_EQ(q.get(), i);
        producer.join();
    }
}

TEST(Queue, anonymous_queue_in_the_default_segment_works) {
    Queue<int> q;
    q.put(41);
    EXPECT_EQ(q.get() + 1, 42);
    EXPECT_EQ(q.maxsize(), 0u);
}

TEST(SimpleQueue, put_get_empty_close) {
    ScopedSegment segment;
    SimpleQueue<std::string> q(*segment, "", small());
    EXPECT_TRUE(q.empty());
    q.put("x");
    EXPECT_FALSE(q.empty());
    EXPECT_EQ(q.get(), "x");
    q.close();
    EXPECT_TRUE(q.closed());
    EXPECT_THROW(q.put("y"), Closed);
}

TEST(JoinableQueue, join_returns_once_every_item_is_done) {
    ScopedSegment segment;
    JoinableQueue<int> q(*segment, "", small());
    EXPECT_TRUE(q.join_for(0ms)); // nothing put yet
    q.put(1);
    q.put(2);
    EXPECT_EQ(q.unfinished_tasks(), 2u);
    EXPECT_FALSE(q.join_for(20ms));
    std::thread worker([&] {
        for (int i = 0; i < 2; ++i) {
            (void)q.get();
            q.task_done();
        }
    });
    q.join();
    worker.join();
    EXPECT_EQ(q.unfinished_tasks(), 0u);
}

TEST(JoinableQueue, too_many_task_done_calls_are_a_usage_error) {
    ScopedSegment segment;
    JoinableQueue<int> q(*segment, "", small());
    EXPECT_THROW(q.task_done(), UsageError);
    q.put(1);
    q.task_done(); // Python allows task_done before get: the count is what matters
    EXPECT_THROW(q.task_done(), UsageError);
}

TEST(JoinableQueue, a_refused_put_does_not_count_as_a_task) {
    ScopedSegment segment;
    JoinableQueue<int> q(*segment, "", small(1));
    q.put(1);
    EXPECT_FALSE(q.try_put(2));
    q.close();
    EXPECT_THROW(q.put(3), Closed);
    EXPECT_EQ(q.unfinished_tasks(), 1u);
}
