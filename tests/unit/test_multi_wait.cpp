// SPDX-License-Identifier: Apache-2.0
// shmbus::wait: the timeout rules (zero or negative polls), what counts as ready for each kind
// of object, and a waiter parked on many objects that wakes on the first one another process
// makes ready; a plain file descriptor (ReadableFd) among them.
#include "support/harness.hpp"

#include <algorithm>
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <shmbus/errors.hpp>
#include <shmbus/event.hpp>
#include <shmbus/joinable_queue.hpp>
#include <shmbus/multi_wait.hpp>
#include <shmbus/pipe.hpp>
#include <shmbus/process.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/semaphore.hpp>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;
using Clock = std::chrono::steady_clock;

namespace {

const WaitOptions kParkAtOnce{.policy = WaitPolicy::block};
const QueueOptions kSmall{.max_message_size = 64};

} // namespace

TEST(MultiWait, zero_or_negative_timeout_polls) {
    ScopedSegment segment;
    Event idle(*segment, "idle");
    Event set(*segment, "set");
    Semaphore empty(*segment, "empty", 0);
    set.set();
    const auto started = Clock::now();
    EXPECT_TRUE(wait_for({idle, empty}, 0s).empty());
    EXPECT_TRUE(wait_for({idle, empty}, -5s).empty());
    EXPECT_TRUE(try_wait({idle, empty}).empty());
    EXPECT_TRUE(wait_until({idle}, Clock::now() - 1s).empty());
    EXPECT_LT(Clock::now() - started, 5s); // none of them slept
    const auto ready = wait_for({idle, set, empty}, -1ms);
    ASSERT_EQ(ready.size(), 1U);
    EXPECT_TRUE(ready[0] == set);
    EXPECT_EQ(ready[0].index(), 1U);
}

TEST(MultiWait, a_timeout_returns_nothing) {
    ScopedSegment segment;
    Event idle(*segment, "idle");
    Queue<int> queue(*segment, "q", kSmall);
    EXPECT_TRUE(wait_for({idle, queue}, 20ms).empty());
    EXPECT_TRUE(wait_for({idle, queue}, 20ms, kParkAtOnce).empty());
}

TEST(MultiWait, an_empty_list_without_a_timeout_is_a_usage_error) {
    EXPECT_THROW((void)wait(std::span<const Waitable>{}), UsageError);
    EXPECT_TRUE(wait_for(std::span<const Waitable>{}, 1ms).empty());
}

TEST(MultiWait, readiness_of_each_kind) {
    ScopedSegment segment;
    Queue<int> queue(*segment, "q", kSmall);
    SimpleQueue<int> simple(*segment, "sq", kSmall);
    JoinableQueue<int> joinable(*segment, "jq", kSmall);
    Event event(*segment, "e");
    Semaphore semaphore(*segment, "s", 0);
    BoundedSemaphore bounded(*segment, "b", 1);
    auto [left, right] = Pipe(*segment);
    const std::vector<Waitable> all{queue, simple, joinable, event, semaphore, bounded, left};
    auto ready = try_wait(all);
    ASSERT_EQ(ready.size(), 1U); // the BoundedSemaphore holds 1
    EXPECT_TRUE(ready[0] == bounded);
    EXPECT_EQ(bounded.get_value(), 1U) << "wait does not acquire";
    queue.put(1);
    simple.put(2);
    joinable.put(3);
    event.set();
    semaphore.release();
    right.send(4);
    ready = try_wait(all);
    EXPECT_EQ(ready.size(), all.size());
    EXPECT_EQ(queue.qsize(), 1U) << "wait consumes nothing";
}

TEST(MultiWait, a_connection_is_ready_at_end_of_stream_and_a_closed_queue_once_drained) {
    ScopedSegment segment;
    auto [left, right] = Pipe(*segment);
    Queue<int> queue(*segment, "q", kSmall);
    queue.put(1);
    queue.close();
    EXPECT_EQ(try_wait({queue}).size(), 1U);
    EXPECT_EQ(queue.get(), 1);
    EXPECT_EQ(try_wait({queue}).size(), 1U) << "a get would not block: it raises Closed";
    EXPECT_TRUE(try_wait({left}).empty());
    right.close();
    EXPECT_EQ(try_wait({left}).size(), 1U);
}

TEST(MultiWait, a_send_only_end_is_a_usage_error) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false);
    EXPECT_THROW((void)try_wait({writer}), UsageError);
}

// The waiter parks on 64 objects at once (block policy: no spin); another process makes one
// of them ready after a while, and the wait returns that one.
TEST(MultiWait, a_waiter_parked_on_many_objects_wakes_on_the_first) {
    ScopedSegment segment;
    std::vector<std::unique_ptr<Event>> events;
    for (int i = 0; i < 64; ++i)
        events.push_back(std::make_unique<Event>(*segment, "e" + std::to_string(i)));
    std::vector<Waitable> objects;
    for (auto& event : events)
        objects.emplace_back(*event);
    for (const int chosen : {0, 37, 63}) {
        Child setter([&] {
            std::this_thread::sleep_for(20ms); // long enough for the parent to park, usually
            events[static_cast<std::size_t>(chosen)]->set();
        });
        const auto ready = wait_for(objects, 30s, kParkAtOnce);
        ASSERT_EQ(ready.size(), 1U);
        EXPECT_EQ(ready[0].index(), static_cast<std::size_t>(chosen));
        EXPECT_EQ(setter.wait(), 0);
        events[static_cast<std::size_t>(chosen)]->clear();
    }
}

// futex_waitv takes at most 128 words: beyond, the waiter sleeps on the first word and looks at
// every object each millisecond, so a later object set by another process is still seen.
TEST(MultiWait, more_objects_than_one_futex_waitv_takes_are_still_seen) {
    ScopedSegment segment;
    std::vector<std::unique_ptr<Event>> events;
    for (int i = 0; i < 130; ++i)
        events.push_back(std::make_unique<Event>(*segment, "e" + std::to_string(i)));
    std::vector<Waitable> objects;
    for (auto& event : events)
        objects.emplace_back(*event);
    Child setter([&] {
        std::this_thread::sleep_for(20ms);
        events.back()->set();
    });
    const auto ready = wait_for(objects, 30s, kParkAtOnce);
    ASSERT_EQ(ready.size(), 1U);
    EXPECT_EQ(ready[0].index(), 129U);
    EXPECT_EQ(setter.wait(), 0);
}

// A pipe's read end as a ReadableFd: ready once another process writes to it, alone or parked
// next to futex objects (the watcher thread), and once its writers closed (hang-up).
TEST(MultiWait, a_readable_fd_is_ready_when_another_process_writes_or_closes) {
    ScopedSegment segment;
    Queue<int> queue(*segment, "q", kSmall);
    int ends[2];
    ASSERT_EQ(::pipe(ends), 0);
    const ReadableFd reader(ends[0]);
    EXPECT_TRUE(try_wait({reader, queue}).empty());
    for (const bool alone : {true, false}) {
        Child writer([&] {
            std::this_thread::sleep_for(20ms); // long enough for the parent to park, usually
            EXPECT_EQ(::write(ends[1], "x", 1), 1);
        });
        const auto ready =
            alone ? wait_for({reader}, 30s) : wait_for({queue, reader}, 30s, kParkAtOnce);
        ASSERT_EQ(ready.size(), 1U);
        EXPECT_TRUE(ready[0] == reader && ready[0] == ReadableFd(ends[0]));
        EXPECT_EQ(writer.wait(), 0);
        char byte = 0;
        EXPECT_EQ(::read(ends[0], &byte, 1), 1) << "wait consumed nothing";
    }
    ::close(ends[1]);
    EXPECT_EQ(wait_for({queue, reader}, 30s).size(), 1U) << "end of file is readable";
    ::close(ends[0]);
    EXPECT_THROW((void)try_wait({reader}), UsageError);
    EXPECT_THROW(ReadableFd{ends[0]}, UsageError);
    EXPECT_THROW(ReadableFd{-1}, UsageError);
}
