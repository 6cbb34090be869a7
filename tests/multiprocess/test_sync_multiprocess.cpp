// SPDX-License-Identifier: Apache-2.0
// The synchronisation primitives between real forked processes.
#include "support/harness.hpp"
#include "sync/sync_state.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <gtest/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/sync.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::eventually;
using shmbus::test::run_children;
using shmbus::test::ScopedSegment;
using shmbus::test::state_of;
using Clock = std::chrono::steady_clock;

namespace {

// Plain data placed in the segment, zero-initialised once, reachable from every child.
template <class T>
T& shared(const Segment& segment, std::string_view name) {
    const auto ref = detail::attach_object(
        segment, name, {ObjectKind::value, sizeof(T), alignof(T), 0x7e57},
        detail::OpenMode::open_or_create, [](void* address) { new (address) T{}; });
    return ref.template state<T>();
}

void require(bool ok, const std::string& what) {
    if (!ok)
        throw std::runtime_error(what);
}

template <class Body>
void expect_broken(Body body) {
    try {
        body();
    } catch (const BrokenBarrier&) {
        return;
    }
    throw std::runtime_error("expected BrokenBarrier");
}

std::vector<int> zeros(int count) {
    return std::vector<int>(static_cast<std::size_t>(count), 0);
}

constexpr int kProcesses = 4;

} // namespace

// ---- Lock, RLock ------------------------------------------------------------------------------

TEST(SyncMultiprocess, lock_makes_plain_increments_exact_under_every_policy) {
    constexpr int kIncrements = 2000;
    for (WaitPolicy policy : {WaitPolicy::spin, WaitPolicy::hybrid, WaitPolicy::block}) {
        ScopedSegment segment;
        Lock lock(*segment, "lock");
        lock.set_wait_options({policy, 20us});
        long& counter = shared<long>(*segment, "counter");
        const auto codes = run_children(kProcesses, [&](int) {
            for (int i = 0; i < kIncrements; ++i) {
                std::lock_guard guard(lock);
                const long seen = counter;
                counter = seen + 1;
            }
        });
        EXPECT_EQ(codes, zeros(kProcesses));
        EXPECT_EQ(counter, long{kProcesses} * kIncrements);
        EXPECT_FALSE(lock.locked());
    }
}

TEST(SyncMultiprocess, rlock_makes_plain_increments_exact) {
    constexpr int kIncrements = 2000;
    ScopedSegment segment;
    RLock lock(*segment, "rlock");
    long& counter = shared<long>(*segment, "counter");
    const auto codes = run_children(kProcesses, [&](int) {
        for (int i = 0; i < kIncrements; ++i) {
            std::lock_guard outer(lock);
            std::lock_guard inner(lock);
            counter = counter + 1;
        }
    });
    EXPECT_EQ(codes, zeros(kProcesses));
    EXPECT_EQ(counter, long{kProcesses} * kIncrements);
}

TEST(SyncMultiprocess, lock_holder_killed_is_taken_over_by_a_parked_waiter_with_owner_died) {
    ScopedSegment segment;
    Lock lock(*segment, "lock");
    Child holder([&] {
        lock.acquire();
        pause();
    });
    ASSERT_TRUE(eventually([&] { return lock.locked(); }));
    Child waiter([&] {
        Lock mine = Lock::open(Segment::open(segment.name()), "lock");
        const AcquireResult result = mine.acquire();
        require(result.acquired && result.owner_died, "owner death was not reported");
        mine.release();
    });
    const auto& state = state_of<detail::LockState>(*segment, "lock", ObjectKind::lock);
    ASSERT_TRUE(eventually([&] { return state.waiters.load() == 1; }));
    holder.kill(SIGKILL); // not reaped until the waiter is done: a zombie holder
    EXPECT_EQ(waiter.wait(), 0);
    EXPECT_EQ(holder.wait(), -SIGKILL);
    EXPECT_FALSE(lock.locked());
    EXPECT_EQ(state.recoveries.load(), 1u);
}

TEST(SyncMultiprocess, rlock_owner_killed_is_reported_to_the_next_owner) {
    ScopedSegment segment;
    RLock lock(*segment, "rlock");
    Event held(*segment, "held");
    Child holder([&] {
        lock.acquire();
        lock.acquire();
        held.set();
        pause();
    });
    ASSERT_TRUE(held.wait_for(20s));
    Child waiter([&] {
        const AcquireResult result = lock.acquire();
        require(result.acquired && result.owner_died, "owner death was not reported");
        lock.release();
        bool threw = false;
        try {
            lock.release();
        } catch (const UsageError&) {
            threw = true;
        }
        require(threw, "the dead owner's recursion level survived");
    });
    holder.kill(SIGKILL);
    EXPECT_EQ(waiter.wait(), 0);
    EXPECT_EQ(holder.wait(), -SIGKILL);
}

TEST(SyncMultiprocess, rlock_release_by_a_non_owner_process_is_usage_error) {
    ScopedSegment segment;
    RLock lock(*segment, "rlock");
    Event held(*segment, "held");
    Event done(*segment, "done");
    Child owner([&] {
        lock.acquire();
        held.set();
        require(done.wait_for(20s), "never told to finish");
        lock.release();
    });
    ASSERT_TRUE(held.wait_for(20s));
    EXPECT_THROW(lock.release(), UsageError);
    EXPECT_FALSE(lock.try_acquire());
    done.set();
    EXPECT_EQ(owner.wait(), 0);
    EXPECT_TRUE(lock.try_acquire());
    lock.release();
}

TEST(SyncMultiprocess, lock_released_by_another_process_wakes_a_waiter) {
    ScopedSegment segment;
    Lock lock(*segment, "lock");
    lock.acquire();
    Child waiter([&] {
        const AcquireResult result = lock.acquire();
        require(result.acquired && !result.owner_died, "acquire failed");
    });
    Child releaser([&] {
        const auto& state = state_of<detail::LockState>(*segment, "lock", ObjectKind::lock);
        require(eventually([&] { return state.waiters.load() == 1; }), "waiter never parked");
        lock.release();
    });
    EXPECT_EQ(releaser.wait(), 0);
    EXPECT_EQ(waiter.wait(), 0);
    EXPECT_TRUE(lock.locked()) << "the waiter exited holding it";
}

// ---- Semaphore --------------------------------------------------------------------------------

TEST(SyncMultiprocess, semaphore_never_lets_more_than_k_inside) {
    constexpr unsigned kSlots = 2;
    constexpr int kWorkers = 6;
    ScopedSegment segment;
    Semaphore semaphore(*segment, "sem", kSlots);
    auto& inside = shared<std::atomic<int>>(*segment, "inside");
    auto& most = shared<std::atomic<int>>(*segment, "most");
    const auto codes = run_children(kWorkers, [&](int) {
        for (int i = 0; i < 300; ++i) {
            require(semaphore.acquire_for(20s), "acquire timed out");
            const int now = inside.fetch_add(1) + 1;
            int seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
            inside.fetch_sub(1);
            semaphore.release();
        }
    });
    EXPECT_EQ(codes, zeros(kWorkers));
    EXPECT_LE(most.load(), static_cast<int>(kSlots));
    EXPECT_GE(most.load(), 1);
    EXPECT_EQ(semaphore.get_value(), kSlots);
}

TEST(SyncMultiprocess, bounded_semaphore_over_release_from_another_process_is_usage_error) {
    ScopedSegment segment;
    BoundedSemaphore semaphore(*segment, "bsem", 1);
    Child child([&] {
        bool threw = false;
        try {
            BoundedSemaphore::open(Segment::open(segment.name()), "bsem").release();
        } catch (const UsageError&) {
            threw = true;
        }
        require(threw, "over-release was accepted");
    });
    EXPECT_EQ(child.wait(), 0);
    EXPECT_EQ(semaphore.get_value(), 1u);
}

// ---- Event ------------------------------------------------------------------------------------

TEST(SyncMultiprocess, event_set_in_one_process_wakes_waiters_in_others) {
    for (WaitPolicy policy : {WaitPolicy::hybrid, WaitPolicy::block}) {
        ScopedSegment segment;
        Event event(*segment, "event");
        event.set_wait_options({policy, 20us});
        std::vector<Child> waiters;
        for (int i = 0; i < 3; ++i)
            waiters.emplace_back([&] { require(event.wait_for(20s), "never woken"); });
        const auto& state = state_of<detail::EventState>(*segment, "event", ObjectKind::event);
        ASSERT_TRUE(eventually([&] { return state.waiters.load() == 3; }));
        Child setter([&] { Event::open(Segment::open(segment.name()), "event").set(); });
        EXPECT_EQ(setter.wait(), 0);
        for (Child& waiter : waiters)
            EXPECT_EQ(waiter.wait(), 0);
    }
}

// ---- Condition --------------------------------------------------------------------------------

namespace {

struct Buffer {
    static constexpr int kCapacity = 4;
    int items[kCapacity];
    int head;
    int tail;
    int size;
    long consumed_sum;
    int consumed;
};

} // namespace

TEST(SyncMultiprocess, condition_producer_consumer_across_processes) {
    constexpr int kProducers = 2;
    constexpr int kPerProducer = 300;
    constexpr int kConsumers = 2;
    constexpr int kTotal = kProducers * kPerProducer;
    ScopedSegment segment;
    Condition condition(*segment, "cond");
    Buffer& buffer = shared<Buffer>(*segment, "buffer");
    const auto codes = run_children(kProducers + kConsumers, [&](int index) {
        Condition mine = Condition::open(Segment::open(segment.name()), "cond");
        if (index < kProducers) {
            for (int i = 1; i <= kPerProducer; ++i) {
                std::lock_guard guard(mine);
                require(mine.wait_for(20s, [&] { return buffer.size < Buffer::kCapacity; }),
                        "buffer never drained");
                buffer.items[buffer.tail] = i;
                buffer.tail = (buffer.tail + 1) % Buffer::kCapacity;
                ++buffer.size;
                mine.notify_all();
            }
            return;
        }
        for (;;) {
            std::lock_guard guard(mine);
            require(
                mine.wait_for(20s, [&] { return buffer.size > 0 || buffer.consumed == kTotal; }),
                "no item came");
            if (buffer.consumed == kTotal)
                return;
            buffer.consumed_sum += buffer.items[buffer.head];
            buffer.head = (buffer.head + 1) % Buffer::kCapacity;
            --buffer.size;
            ++buffer.consumed;
            mine.notify_all();
        }
    });
    EXPECT_EQ(codes, zeros(kProducers + kConsumers));
    EXPECT_EQ(buffer.consumed, kTotal);
    EXPECT_EQ(buffer.consumed_sum, long{kProducers} * kPerProducer * (kPerProducer + 1) / 2);
}

TEST(SyncMultiprocess, condition_over_a_lock_notifies_across_processes) {
    ScopedSegment segment;
    Lock lock(*segment, "lock");
    Condition condition(*segment, "cond", lock);
    int& flag = shared<int>(*segment, "flag");
    Child waiter([&] {
        Condition mine = Condition::open(Segment::open(segment.name()), "cond");
        std::lock_guard guard(mine);
        require(mine.wait_for(20s, [&] { return flag == 1; }), "never notified");
    });
    {
        std::lock_guard guard(condition);
        flag = 1;
        condition.notify();
    }
    EXPECT_EQ(waiter.wait(), 0);
}

// ---- Barrier ----------------------------------------------------------------------------------

TEST(SyncMultiprocess, barrier_releases_four_processes_per_generation_with_distinct_indices) {
    constexpr int kGenerations = 10;
    ScopedSegment segment;
    Barrier barrier(*segment, "barrier", kProcesses);
    using Table = int[kGenerations][kProcesses];
    Table& indices = shared<Table>(*segment, "indices");
    auto& arrived = shared<std::atomic<int>[kGenerations]>(*segment, "arrived");
    const auto codes = run_children(kProcesses, [&](int process) {
        for (int g = 0; g < kGenerations; ++g) {
            arrived[g].fetch_add(1);
            indices[g][process] = static_cast<int>(barrier.wait_for(20s));
            require(arrived[g].load() == kProcesses, "released before everyone arrived");
        }
    });
    EXPECT_EQ(codes, zeros(kProcesses));
    for (int g = 0; g < kGenerations; ++g) {
        std::vector<int> seen(std::begin(indices[g]), std::end(indices[g]));
        std::sort(seen.begin(), seen.end());
        EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3})) << "generation " << g;
    }
    EXPECT_FALSE(barrier.broken());
    EXPECT_EQ(barrier.n_waiting(), 0u);
}

TEST(SyncMultiprocess, barrier_timeout_in_one_process_breaks_all) {
    ScopedSegment segment;
    Barrier barrier(*segment, "barrier", kProcesses);
    const auto codes = run_children(kProcesses - 1, [&](int process) {
        if (process == 0) {
            require(eventually([&] { return barrier.n_waiting() == 2; }), "others never came");
            expect_broken([&] { barrier.wait_for(50ms); });
        } else {
            expect_broken([&] { barrier.wait_for(20s); });
        }
        expect_broken([&] { barrier.wait(); });
    });
    EXPECT_EQ(codes, zeros(kProcesses - 1));
    EXPECT_TRUE(barrier.broken());
    barrier.reset();
    EXPECT_FALSE(barrier.broken());
}

TEST(SyncMultiprocess, barrier_abort_from_another_process_breaks_all_waiters) {
    ScopedSegment segment;
    Barrier barrier(*segment, "barrier", kProcesses);
    std::vector<Child> waiters;
    for (int i = 0; i < kProcesses - 1; ++i)
        waiters.emplace_back([&] { expect_broken([&] { barrier.wait(); }); });
    ASSERT_TRUE(eventually([&] { return barrier.n_waiting() == kProcesses - 1; }));
    Child aborter([&] { Barrier::open(Segment::open(segment.name()), "barrier", 4).abort(); });
    EXPECT_EQ(aborter.wait(), 0);
    for (Child& waiter : waiters)
        EXPECT_EQ(waiter.wait(), 0);
    EXPECT_TRUE(barrier.broken());
}

// Every process carries the same action; it must run once per generation, in the process
// that arrived last, before any party of that generation is released.
TEST(SyncMultiprocess, barrier_action_runs_once_per_generation_in_the_last_process) {
    constexpr int kGenerations = 6;
    struct Log {
        std::atomic<int> runs;
        std::atomic<int> runner[kGenerations];
        std::atomic<int> behind;
    };
    ScopedSegment segment;
    Log& log = shared<Log>(*segment, "log");
    Barrier barrier(*segment, "barrier", kProcesses, [&log] {
        const int run = log.runs.fetch_add(1);
        if (run < kGenerations)
            log.runner[run].store(static_cast<int>(::getpid()));
    });
    const auto codes = run_children(kProcesses, [&](int) {
        for (int g = 0; g < kGenerations; ++g) {
            const unsigned index = barrier.wait_for(20s);
            if (log.runs.load() < g + 1)
                log.behind.fetch_add(1);
            if (index == kProcesses - 1)
                require(log.runner[g].load() == ::getpid(), "the action ran elsewhere");
        }
    });
    EXPECT_EQ(codes, zeros(kProcesses));
    EXPECT_EQ(log.runs.load(), kGenerations);
    EXPECT_EQ(log.behind.load(), 0) << "released before the generation's action ran";
}

TEST(SyncMultiprocess, barrier_action_that_throws_breaks_the_others_and_reaches_its_caller) {
    ScopedSegment segment;
    Barrier barrier(*segment, "barrier", kProcesses);
    std::vector<Child> waiters;
    for (int i = 0; i < kProcesses - 1; ++i)
        waiters.emplace_back([&] { expect_broken([&] { barrier.wait_for(20s); }); });
    ASSERT_TRUE(eventually([&] { return barrier.n_waiting() == kProcesses - 1; }));
    Child last([&] {
        Barrier mine(*segment, "barrier", kProcesses, [] { throw std::logic_error("no"); });
        try {
            mine.wait_for(20s);
        } catch (const std::logic_error&) {
            ::_exit(7);
        }
    });
    EXPECT_EQ(last.wait(), 7);
    for (Child& waiter : waiters)
        EXPECT_EQ(waiter.wait(), 0);
    EXPECT_TRUE(barrier.broken());
}

// While the action runs the others stay parked, past their own timeouts, and are then released
// (Python's waiters cannot take the barrier's lock back before the action ends).
TEST(SyncMultiprocess, barrier_waiters_outlast_their_timeout_while_the_action_runs) {
    constexpr auto kTimeout = 300ms;
    ScopedSegment segment;
    auto& deadline = shared<std::atomic<Clock::rep>>(*segment, "deadline");
    Barrier barrier(*segment, "barrier", 2);
    Child waiter([&] {
        deadline.store((Clock::now() + kTimeout).time_since_epoch().count());
        require(barrier.wait_for(kTimeout) == 0, "wrong index");
    });
    ASSERT_TRUE(eventually([&] { return barrier.n_waiting() == 1; }));
    Barrier last(*segment, "barrier", 2, [&] {
        const Clock::time_point end{Clock::duration(deadline.load())};
        while (Clock::now() < end + 50ms)
            std::this_thread::sleep_for(10ms);
    });
    try {
        EXPECT_EQ(last.wait_for(20s), 1u);
    } catch (const BrokenBarrier&) {
        waiter.wait();
        GTEST_SKIP() << "the waiter's timeout passed before the last party arrived (a slow box)";
    }
    EXPECT_EQ(waiter.wait(), 0);
    EXPECT_FALSE(barrier.broken());
}

// A process that dies in the action leaves the state mid-update: the next process to touch
// the barrier breaks it, which releases the parked party with BrokenBarrier.
TEST(SyncMultiprocess, barrier_action_that_dies_breaks_the_barrier) {
    ScopedSegment segment;
    Barrier barrier(*segment, "barrier", 2);
    Child waiter([&] { expect_broken([&] { barrier.wait_for(20s); }); });
    ASSERT_TRUE(eventually([&] { return barrier.n_waiting() == 1; }));
    Child dying([&] { Barrier(*segment, "barrier", 2, [] { ::_exit(3); }).wait_for(20s); });
    EXPECT_EQ(dying.wait(), 3);
    EXPECT_THROW(barrier.wait_for(0s), BrokenBarrier);
    EXPECT_EQ(waiter.wait(), 0);
    barrier.reset();
    EXPECT_FALSE(barrier.broken());
}

TEST(SyncMultiprocess, barrier_default_timeout_breaks_every_process) {
    ScopedSegment segment;
    Barrier barrier(*segment, "barrier", kProcesses, {}, 50ms);
    const auto codes =
        run_children(kProcesses - 1, [&](int) { expect_broken([&] { barrier.wait(); }); });
    EXPECT_EQ(codes, zeros(kProcesses - 1));
    EXPECT_TRUE(barrier.broken());
}

// ---- RLock::locked ---------------------------------------------------------------------------

TEST(SyncMultiprocess, rlock_locked_is_seen_from_other_processes) {
    ScopedSegment segment;
    RLock lock(*segment, "rlock");
    Event held(*segment, "held");
    Event release(*segment, "release");
    EXPECT_FALSE(lock.locked());
    Child holder([&] {
        lock.acquire();
        lock.acquire();
        held.set();
        require(release.wait_for(20s), "never told to release");
        lock.release();
        require(lock.locked(), "one level is still held");
        lock.release();
        require(!lock.locked(), "released");
    });
    ASSERT_TRUE(held.wait_for(20s));
    EXPECT_TRUE(lock.locked());
    release.set();
    EXPECT_EQ(holder.wait(), 0);
    EXPECT_FALSE(lock.locked());
    Child dies_holding([&] {
        lock.acquire();
        ::_exit(0);
    });
    EXPECT_EQ(dies_holding.wait(), 0);
    EXPECT_TRUE(lock.locked()) << "until the next acquire takes it over";
    EXPECT_TRUE(lock.acquire().owner_died);
    EXPECT_TRUE(lock.locked());
    lock.release();
    EXPECT_FALSE(lock.locked());
}

// A party stopped (SIGSTOP) while its generation ends and a later one breaks must still learn
// how its own generation ended.
TEST(SyncMultiprocess, barrier_party_that_sleeps_through_later_breaks_learns_its_own_outcome) {
    for (const bool released : {true, false}) {
        ScopedSegment segment;
        Barrier barrier(*segment, "barrier", 2);
        barrier.set_wait_options({WaitPolicy::block, 0us});
        const auto& state =
            state_of<detail::BarrierState>(*segment, "barrier", ObjectKind::barrier, 2);
        Child sleeper([&] {
            if (released)
                require(barrier.wait_for(20s) == 0, "first arrival got another index");
            else
                expect_broken([&] { barrier.wait_for(20s); });
        });
        ASSERT_TRUE(eventually([&] { return state.waiters.load() == 1; }));
        sleeper.kill(SIGSTOP);
        if (released)
            EXPECT_EQ(barrier.wait(), 1u); // ends the sleeper's generation normally
        else
            barrier.abort(); // ends it broken
        barrier.reset();
        EXPECT_THROW(barrier.wait_for(0s), BrokenBarrier); // a later generation breaks
        barrier.reset();
        sleeper.kill(SIGCONT);
        EXPECT_EQ(sleeper.wait(), 0) << (released ? "released" : "broken") << " generation";
    }
}
