// SPDX-License-Identifier: Apache-2.0
#include "os/liveness.hpp"
#include "support/harness.hpp"
#include "sync/sync_state.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <gtest/gtest.h>
#include <mutex>
#include <shmbus/errors.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/semaphore.hpp>
#include <stdexcept>
#include <thread>
#include <unistd.h>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::eventually;
using shmbus::test::ScopedSegment;
using shmbus::test::state_of;
using Clock = std::chrono::steady_clock;

namespace {

void require(bool ok, const char* what) {
    if (!ok)
        throw std::runtime_error(what);
}

const WaitOptions kPolicies[] = {
    {WaitPolicy::spin, 20us}, {WaitPolicy::hybrid, 20us}, {WaitPolicy::block, 0us}};

} // namespace

// ---- Lock -------------------------------------------------------------------------------------

TEST(Lock, try_acquire_release_and_locked) {
    ScopedSegment segment;
    Lock lock(*segment, "l");
    EXPECT_FALSE(lock.locked());
    const AcquireResult first = lock.try_acquire();
    EXPECT_TRUE(first.acquired);
    EXPECT_FALSE(first.owner_died);
    EXPECT_TRUE(lock.locked());
    EXPECT_FALSE(lock.try_acquire()) << "not recursive, even for the holder";
    lock.release();
    EXPECT_FALSE(lock.locked());
}

TEST(Lock, release_of_unlocked_lock_is_usage_error) {
    ScopedSegment segment;
    Lock lock(*segment, "l");
    EXPECT_THROW(lock.release(), UsageError);
    lock.acquire();
    lock.release();
    EXPECT_THROW(lock.release(), UsageError);
}

TEST(Lock, named_handles_share_state_and_kinds_are_checked) {
    ScopedSegment segment;
    Lock a(*segment, "shared");
    Lock b(*segment, "shared");
    Lock c = Lock::open(*segment, "shared");
    a.acquire();
    EXPECT_TRUE(b.locked());
    EXPECT_FALSE(c.try_acquire());
    c.release();
    EXPECT_FALSE(a.locked());
    EXPECT_THROW(Lock::create(*segment, "shared"), AlreadyExists);
    EXPECT_THROW(Lock::open(*segment, "missing"), NotFound);
    Semaphore semaphore(*segment, "sem");
    EXPECT_THROW(Lock::open(*segment, "sem"), KindMismatch);
    EXPECT_THROW(RLock::open(*segment, "shared"), KindMismatch);
    EXPECT_THROW((void)Lock(*segment, "bad name"), InvalidName);
}

TEST(Lock, anonymous_locks_in_the_default_segment_are_distinct) {
    Lock a;
    Lock b;
    a.acquire();
    EXPECT_TRUE(a.locked());
    EXPECT_FALSE(b.locked());
    Lock copy = a;
    copy.release();
    EXPECT_FALSE(a.locked());
}

TEST(Lock, timed_acquire_waits_at_least_the_timeout_under_every_policy) {
    ScopedSegment segment;
    Lock lock(*segment, "l");
    lock.acquire();
    for (const WaitOptions& options : kPolicies) {
        Lock waiter(*segment, "l");
        waiter.set_wait_options(options);
        EXPECT_EQ(waiter.wait_options().policy, options.policy);
        const auto start = Clock::now();
        EXPECT_FALSE(waiter.acquire_for(30ms));
        EXPECT_GE(Clock::now() - start, 30ms);
        const auto until = Clock::now() + 20ms;
        EXPECT_FALSE(waiter.acquire_until(until));
        EXPECT_GE(Clock::now(), until);
        EXPECT_FALSE(waiter.acquire_until(std::chrono::system_clock::now() + 5ms));
    }
    EXPECT_FALSE(lock.acquire_for(-5s)) << "negative timeout tries once";
    lock.release();
    EXPECT_TRUE(lock.acquire_for(-5s));
    lock.release();
}

TEST(Lock, std_lock_guard_unique_lock_and_scoped_lock) {
    ScopedSegment segment;
    Lock a(*segment, "a");
    Lock b(*segment, "b");
    {
        std::lock_guard guard(a);
        EXPECT_TRUE(a.locked());
    }
    EXPECT_FALSE(a.locked());
    {
        std::unique_lock guard(a, std::try_to_lock);
        EXPECT_TRUE(guard.owns_lock());
    }
    {
        std::scoped_lock both(a, b);
        EXPECT_TRUE(a.locked() && b.locked());
    }
    EXPECT_FALSE(a.locked() || b.locked());
}

TEST(Lock, threads_hand_off_under_every_policy) {
    for (const WaitOptions& options : kPolicies) {
        ScopedSegment segment;
        Lock lock(*segment, "l");
        lock.set_wait_options(options);
        long counter = 0;
        auto work = [&] {
            for (int i = 0; i < 2000; ++i) {
                std::lock_guard guard(lock);
                ++counter;
            }
        };
        std::thread t1(work);
        std::thread t2(work);
        t1.join();
        t2.join();
        EXPECT_EQ(counter, 4000);
    }
}

TEST(Lock, a_parked_waiter_is_woken_by_release) {
    ScopedSegment segment;
    Lock lock(*segment, "l");
    lock.set_wait_options({WaitPolicy::block, 0us});
    auto& state = state_of<detail::LockState>(*segment, "l", ObjectKind::lock);
    lock.acquire();
    std::atomic<bool> got{false};
    std::thread waiter([&] {
        Lock mine(*segment, "l");
        mine.set_wait_options({WaitPolicy::block, 0us});
        got = mine.acquire().acquired;
        mine.release();
    });
    ASSERT_TRUE(eventually([&] { return state.waiters.load() == 1; }));
    EXPECT_FALSE(got);
    lock.release();
    waiter.join();
    EXPECT_TRUE(got);
    EXPECT_EQ(state.waiters.load(), 0u);
}

TEST(Lock, another_process_may_release_it) {
    ScopedSegment segment;
    Lock lock(*segment, "l");
    lock.acquire();
    Child child([&] { lock.release(); });
    ASSERT_EQ(child.wait(), 0);
    EXPECT_FALSE(lock.locked());
}

TEST(Lock, state_records_owner_pid_and_start_time) {
    ScopedSegment segment;
    Lock lock(*segment, "l");
    const auto& state = state_of<detail::LockState>(*segment, "l", ObjectKind::lock);
    lock.acquire();
    const auto& self = detail::self_identity();
    EXPECT_EQ(state.word.load(), static_cast<std::uint32_t>(getpid()));
    EXPECT_EQ(state.owner.load(), detail::this_process_owner());
    EXPECT_EQ(detail::owner_tid(state.owner.load()), getpid());
    EXPECT_EQ(detail::owner_start_time(state.owner.load()),
              self.start_time & detail::kOwnerTimeMask);
    lock.release();
    EXPECT_EQ(state.word.load(), 0u);
    EXPECT_EQ(state.owner.load(), 0u);
}

// The process owner word is cached: a fork must leave the child its own, not its parent's.
TEST(Lock, a_forked_child_holds_it_under_its_own_owner_word) {
    ScopedSegment segment;
    Lock lock(*segment, "l");
    const auto& state = state_of<detail::LockState>(*segment, "l", ObjectKind::lock);
    const detail::OwnerId parent = detail::this_process_owner();
    Child child([&] {
        lock.acquire();
        const detail::OwnerId held = state.owner.load();
        require(held == detail::this_process_owner(), "the owner word is the caller's");
        require(held != parent, "the child recorded its parent's owner word");
        require(detail::owner_tid(held) == getpid(), "the owner word names another pid");
        require(detail::owner_alive(held), "the child's owner word reads dead");
        lock.release();
    });
    EXPECT_EQ(child.wait(), 0);
    EXPECT_EQ(detail::this_process_owner(), parent);
    EXPECT_EQ(detail::owner_tid(parent), getpid());
}

TEST(Lock, holder_that_exits_holding_is_taken_over_with_owner_died) {
    ScopedSegment segment;
    Lock lock(*segment, "l");
    Child child([&] { lock.acquire(); }); // exits holding it; stays an unreaped zombie below
    ASSERT_TRUE(eventually([&] { return lock.locked(); }));
    EXPECT_FALSE(lock.try_acquire()) << "try_acquire never probes the holder";
    const AcquireResult result = lock.acquire_for(30s);
    EXPECT_TRUE(result.acquired);
    EXPECT_TRUE(result.owner_died);
    EXPECT_EQ(state_of<detail::LockState>(*segment, "l", ObjectKind::lock).recoveries.load(), 1u);
    lock.release();
    EXPECT_EQ(child.wait(), 0);
    const AcquireResult again = lock.acquire();
    EXPECT_FALSE(again.owner_died);
    lock.release();
}

TEST(Lock, spin_policy_also_recovers_from_a_dead_holder) {
    ScopedSegment segment;
    Lock lock(*segment, "l");
    lock.set_wait_options({WaitPolicy::spin, 0us});
    Child child([&] { lock.acquire(); });
    ASSERT_EQ(child.wait(), 0);
    const AcquireResult result = lock.acquire();
    EXPECT_TRUE(result.owner_died);
    lock.release();
}

TEST(Lock, live_holder_is_not_taken_over) {
    ScopedSegment segment;
    Lock lock(*segment, "l");
    Lock probe_side(*segment, "l");
    Child child([&] {
        lock.acquire();
        pause();
    });
    ASSERT_TRUE(eventually([&] { return lock.locked(); }));
    const auto start = Clock::now();
    EXPECT_FALSE(probe_side.acquire_for(3 * Lock::kOwnerProbePeriod));
    EXPECT_GE(Clock::now() - start, 3 * Lock::kOwnerProbePeriod);
    child.kill(SIGKILL);
}

TEST(Lock, a_reused_pid_is_not_taken_for_the_holder) {
    // Forge a holder record: a live pid (this process's parent) with another start time, as if
    // the holder had died and its pid been reused.
    ScopedSegment segment;
    Lock lock(*segment, "l");
    auto& state = state_of<detail::LockState>(*segment, "l", ObjectKind::lock);
    const auto parent = static_cast<std::int32_t>(getppid());
    const auto start = detail::process_start_time(parent);
    ASSERT_TRUE(start.has_value());
    state.word.store(static_cast<std::uint32_t>(parent));
    state.owner.store(detail::make_owner(parent, *start + 1));
    const AcquireResult result = lock.acquire_for(30s);
    EXPECT_TRUE(result.owner_died);
    lock.release();
    // With the right start time the same pid counts as alive.
    state.word.store(static_cast<std::uint32_t>(parent));
    state.owner.store(detail::make_owner(parent, *start));
    EXPECT_FALSE(lock.acquire_for(2 * Lock::kOwnerProbePeriod));
    state.word.store(0);
}

// ---- RLock ------------------------------------------------------------------------------------

TEST(RLock, is_recursive_for_its_owner) {
    ScopedSegment segment;
    RLock lock(*segment, "r");
    EXPECT_TRUE(lock.try_acquire());
    EXPECT_TRUE(lock.try_acquire());
    EXPECT_TRUE(lock.acquire_for(1ms));
    const auto& state = state_of<detail::RLockState>(*segment, "r", ObjectKind::rlock);
    EXPECT_EQ(state.count.load(), 3u);
    EXPECT_EQ(state.owner.load(), detail::this_thread_owner());
    EXPECT_EQ(detail::owner_tid(state.owner.load()), gettid());
    EXPECT_EQ(state.owner_pid.load(), getpid());
    lock.release();
    lock.release();
    lock.release();
    EXPECT_EQ(state.owner.load(), detail::kNoOwner);
    EXPECT_EQ(state.owner_pid.load(), 0);
    EXPECT_THROW(lock.release(), UsageError);
}

TEST(RLock, release_when_not_held_is_usage_error) {
    ScopedSegment segment;
    RLock lock(*segment, "r");
    EXPECT_THROW(lock.release(), UsageError);
}

TEST(RLock, release_by_another_thread_is_usage_error_and_blocks_it) {
    ScopedSegment segment;
    RLock lock(*segment, "r");
    lock.acquire();
    std::thread other([&] {
        EXPECT_THROW(lock.release(), UsageError);
        EXPECT_FALSE(lock.try_acquire());
        const auto start = Clock::now();
        EXPECT_FALSE(lock.acquire_for(20ms));
        EXPECT_GE(Clock::now() - start, 20ms);
    });
    other.join();
    lock.release();
}

TEST(RLock, release_by_another_process_is_usage_error) {
    ScopedSegment segment;
    RLock lock(*segment, "r");
    lock.acquire();
    Child child([&] {
        bool threw = false;
        try {
            lock.release();
        } catch (const UsageError&) {
            threw = true;
        }
        require(threw, "non-owner release did not throw");
        require(!lock.try_acquire(), "child acquired a held RLock");
    });
    EXPECT_EQ(child.wait(), 0);
    lock.release();
}

TEST(RLock, threads_count_exactly_under_every_policy) {
    for (const WaitOptions& options : kPolicies) {
        ScopedSegment segment;
        RLock lock(*segment, "r");
        lock.set_wait_options(options);
        long counter = 0;
        auto work = [&] {
            for (int i = 0; i < 2000; ++i) {
                std::lock_guard outer(lock);
                std::lock_guard inner(lock);
                ++counter;
            }
        };
        std::thread t1(work);
        std::thread t2(work);
        t1.join();
        t2.join();
        EXPECT_EQ(counter, 4000);
    }
}

TEST(RLock, owner_that_dies_holding_it_is_reported) {
    ScopedSegment segment;
    RLock lock(*segment, "r");
    Child child([&] {
        lock.acquire();
        lock.acquire();
    });
    ASSERT_EQ(child.wait(), 0);
    const AcquireResult result = lock.acquire();
    EXPECT_TRUE(result.acquired);
    EXPECT_TRUE(result.owner_died);
    const auto& state = state_of<detail::RLockState>(*segment, "r", ObjectKind::rlock);
    EXPECT_EQ(state.count.load(), 1u) << "the dead owner's recursion level is dropped";
    lock.release();
    EXPECT_THROW(lock.release(), UsageError);
    EXPECT_FALSE(lock.acquire().owner_died);
    lock.release();
}

TEST(RLock, kinds_and_names_are_checked) {
    ScopedSegment segment;
    RLock a(*segment, "r");
    RLock b = RLock::open(*segment, "r");
    a.acquire();
    std::thread([&] { EXPECT_FALSE(b.try_acquire()); }).join();
    a.release();
    EXPECT_THROW(RLock::create(*segment, "r"), AlreadyExists);
    EXPECT_THROW(RLock::open(*segment, "nope"), NotFound);
    EXPECT_THROW(Lock::open(*segment, "r"), KindMismatch);
    RLock anonymous;
    EXPECT_TRUE(anonymous.try_acquire());
    anonymous.release();
}
