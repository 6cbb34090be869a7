// SPDX-License-Identifier: Apache-2.0
// shmbus::wait across processes: each kind made ready by another process, sentinels mixed with
// futex objects, several objects ready at once, a Semaphore wake passed on to a parked
// acquirer; and the Process additions: sentinel(), interrupt(), close(), parent_process().
#include "support/harness.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <gtest/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/event.hpp>
#include <shmbus/multi_wait.hpp>
#include <shmbus/pipe.hpp>
#include <shmbus/process.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/semaphore.hpp>
#include <shmbus/value.hpp>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::eventually;
using shmbus::test::ScopedSegment;

namespace {

const WaitOptions kParkAtOnce{.policy = WaitPolicy::block};
const QueueOptions kSmall{.max_message_size = 64};

} // namespace

TEST(MultiWaitProcesses, each_kind_made_ready_by_another_process_wakes_the_waiter) {
    ScopedSegment segment;
    Queue<int> queue(*segment, "q", kSmall);
    Event event(*segment, "e");
    Semaphore semaphore(*segment, "s", 0);
    auto [left, right] = Pipe(*segment);
    const std::vector<Waitable> all{queue, event, semaphore, left};
    for (std::size_t which = 0; which < all.size(); ++which) {
        Child maker([&, which] {
            std::this_thread::sleep_for(10ms);
            switch (which) {
            case 0:
                queue.put(7);
                break;
            case 1:
                event.set();
                break;
            case 2:
                semaphore.release();
                break;
            default:
                right.send(7);
            }
        });
        const auto ready = wait_for(all, 30s, kParkAtOnce);
        ASSERT_EQ(ready.size(), 1U);
        EXPECT_EQ(ready[0].index(), which);
        EXPECT_EQ(maker.wait(), 0);
        // Take back what made it ready, so only the next one is.
        if (which == 0) {
            EXPECT_EQ(queue.get(), 7);
        } else if (which == 2) {
            EXPECT_TRUE(semaphore.try_acquire());
        } else if (which == 3) {
            EXPECT_EQ(left.recv<int>(), 7);
        }
        event.clear();
    }
}

TEST(MultiWaitProcesses, a_pipe_whose_sending_process_dies_reads_as_ready) {
    ScopedSegment segment;
    auto [left, right] = Pipe(*segment);
    Event never(*segment, "never");
    Child sender([&] {
        right.send(1); // records this process as the sender
        std::this_thread::sleep_for(10ms);
    });
    ASSERT_EQ(left.recv<int>(), 1);
    EXPECT_EQ(sender.wait(), 0);
    const auto ready = wait_for({never, left}, 30s, kParkAtOnce);
    ASSERT_EQ(ready.size(), 1U);
    EXPECT_TRUE(ready[0] == left);
}

TEST(MultiWaitProcesses, sentinels_alone_and_mixed_with_futex_objects) {
    ScopedSegment segment;
    Event never(*segment, "never");
    Process quick([] { std::this_thread::sleep_for(20ms); });
    Process slow([] { std::this_thread::sleep_for(30s); });
    quick.start();
    slow.start();
    auto ready = wait_for({slow.sentinel(), quick.sentinel()}, 30s);
    ASSERT_EQ(ready.size(), 1U);
    EXPECT_TRUE(ready[0] == quick.sentinel());
    EXPECT_EQ(ready[0].index(), 1U);
    slow.kill(); // a killed child bumps no futex word: the pidfd still tells
    ready = wait_for({never, slow.sentinel()}, 30s, kParkAtOnce);
    ASSERT_EQ(ready.size(), 1U);
    EXPECT_EQ(ready[0].index(), 1U);
    slow.join();
    quick.join();
    // An Event set by another process ends a wait that also holds a running child's sentinel.
    Process sleeper([] { std::this_thread::sleep_for(30s); });
    sleeper.start();
    Child setter([&] {
        std::this_thread::sleep_for(10ms);
        never.set();
    });
    ready = wait_for({sleeper.sentinel(), never}, 30s, kParkAtOnce);
    ASSERT_EQ(ready.size(), 1U);
    EXPECT_EQ(ready[0].index(), 1U);
    EXPECT_EQ(setter.wait(), 0);
    sleeper.kill();
    sleeper.join();
}

TEST(MultiWaitProcesses, several_objects_ready_at_once_are_all_returned) {
    ScopedSegment segment;
    std::vector<Event> events;
    for (int i = 0; i < 8; ++i)
        events.emplace_back(*segment, "e" + std::to_string(i));
    std::vector<Waitable> all(events.begin(), events.end());
    std::vector<Child> setters;
    for (int i = 0; i < 8; i += 2)
        setters.emplace_back([&events, i] { events[static_cast<std::size_t>(i)].set(); });
    for (Child& setter : setters)
        EXPECT_EQ(setter.wait(), 0);
    const auto ready = wait_for(all, 30s, kParkAtOnce);
    ASSERT_EQ(ready.size(), 4U);
    for (std::size_t i = 0; i < ready.size(); ++i)
        EXPECT_EQ(ready[i].index(), 2 * i);
}

// release(1) wakes one parked process. When that is the multi-waiter, which takes nothing,
// the wake is passed on, so the acquirer parked beside it does not sleep on a free unit.
TEST(MultiWaitProcesses, a_semaphore_wake_taken_by_a_multi_waiter_is_passed_on) {
    ScopedSegment segment;
    Semaphore semaphore(*segment, "s", 0);
    semaphore.set_wait_options(kParkAtOnce);
    Event go(*segment, "go");
    for (int round = 0; round < 5; ++round) {
        Child acquirer([&] {
            if (!semaphore.acquire_for(30s))
                throw std::runtime_error("the acquirer slept on a free unit");
        });
        Child watcher([&] {
            if (wait_for({semaphore, go}, 30s, kParkAtOnce).empty())
                throw std::runtime_error("the watcher was never woken");
        });
        std::this_thread::sleep_for(10ms); // both park, usually
        semaphore.release();
        EXPECT_EQ(acquirer.wait(), 0);
        go.set();
        EXPECT_EQ(watcher.wait(), 0);
        go.clear();
    }
}

TEST(ProcessAdditions, sentinel_needs_a_started_open_process) {
    Process process([] {});
    EXPECT_THROW((void)process.sentinel(), UsageError);
    process.start();
    process.join();
    EXPECT_GE(process.sentinel().fd(), 0);
    EXPECT_EQ(try_wait({process.sentinel()}).size(), 1U);
}

TEST(ProcessAdditions, interrupt_sends_sigint) {
    Process process([] { std::this_thread::sleep_for(30s); });
    EXPECT_THROW(process.interrupt(), UsageError);
    process.start();
    process.interrupt();
    process.join();
    EXPECT_EQ(process.exitcode(), -SIGINT);
}

TEST(ProcessAdditions, close_refuses_a_running_child_then_closes_the_object) {
    Process process([] { std::this_thread::sleep_for(30s); });
    process.close(); // not started: nothing to release
    EXPECT_THROW(process.start(), UsageError);

    Process running([] { std::this_thread::sleep_for(30s); });
    running.start();
    EXPECT_THROW(running.close(), UsageError);
    running.terminate();
    running.join();
    running.close();
    running.close(); // twice is harmless
    EXPECT_THROW(running.join(), UsageError);
    EXPECT_THROW((void)running.is_alive(), UsageError);
    EXPECT_THROW(running.kill(), UsageError);
    EXPECT_THROW((void)running.exitcode(), UsageError);
    EXPECT_THROW((void)running.pid(), UsageError);
    EXPECT_THROW((void)running.sentinel(), UsageError);
    EXPECT_FALSE(running.name().empty());
}

TEST(ProcessAdditions, parent_process_is_empty_in_the_main_process_and_describes_the_parent) {
    EXPECT_FALSE(parent_process().has_value());
    ScopedSegment segment;
    Value<int> seen_pid(*segment, "pid", 0);
    Value<int> grand_ok(*segment, "grand", 0);
    const pid_t me = ::getpid();
    Process child([&] {
        auto parent = parent_process();
        if (!parent || parent->pid() != me || parent->name() != "MainProcess" ||
            !parent->is_alive() || parent->join_for(1ms))
            throw std::runtime_error("wrong parent description");
        seen_pid.store(parent->pid());
        // A grandchild sees this child as its parent, and sees it end: the child leaves at once
        // with _exit (its Process destructor would otherwise wait for the grandchild).
        Process grandchild([&] {
            auto mine = parent_process();
            const std::string name = current_process().name;
            if (!mine || mine->name() != name.substr(0, name.rfind(':')) || !mine->join_for(30s) ||
                mine->is_alive())
                return;
            grand_ok.store(1);
        });
        grandchild.start();
        ::_exit(0);
    });
    child.start();
    child.join();
    EXPECT_EQ(child.exitcode(), 0);
    EXPECT_EQ(seen_pid.load(), me);
    EXPECT_TRUE(eventually([&] { return grand_ok.load() == 1; }));
}
