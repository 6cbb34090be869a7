// SPDX-License-Identifier: Apache-2.0
/// @file
/// Lock and RLock: Python's multiprocessing.Lock and RLock, usable across processes.
///
/// Why Lock is an owner-pid futex word and not a robust pthread mutex:
/// - Python's Lock may be released by a process that does not hold it; a robust pthread mutex
///   refuses that (EPERM). So Lock is a 32-bit futex word holding the holder's pid (0 = free):
///   acquire is one CAS, release one exchange, and FUTEX_WAKE runs only when a waiter is parked.
/// - A dead holder is no silent deadlock: a parked acquirer probes the holder every
///   kOwnerProbePeriod (through /proc, where an unreaped zombie counts as dead; kill(pid, 0)
///   would call it alive and deadlock a parent waiting on its dead child's lock) and takes the
///   lock over with a CAS from the word it saw, reporting owner_died. Recovery latency is one
///   probe period; a robust mutex's kernel hand-off is faster (~1 ms) but owner-only.
/// - The holder's start time is recorded next to its pid, so a new process that reuses a dead
///   holder's pid is not taken for the holder. Pids are only meaningful inside one pid
///   namespace: processes in different containers must not share a Lock.
///
/// Measured on the 2-core reference VM (one run, -O2): uncontended acquire + release costs 17.7 ns
/// for Lock, 17.4 ns for a bare robust pthread mutex and 28.9 ns for RLock (its owner check).
/// With a waiter parked and the holder SIGKILLed and left an unreaped zombie, Lock was taken
/// over 10.2-10.4 ms after the kill (kill 30 ms into the wait; the bound is one probe period),
/// RLock 0.26-0.60 ms after it. Non-owner release is the requirement; the cost is latency only
/// in the rare case of a dead holder.
///
/// RLock is released only by its owner, so it is a robust pthread mutex: the kernel hands a
/// dead owner's mutex to the next locker with EOWNERDEAD (docs/design/crash-recovery.md).
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/export.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/wait.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>
#include <utility>

namespace shmbus {

class Condition;

/// A non-recursive lock owned by a process; any process may release it (as in Python).
/// Satisfies Lockable (std::lock_guard, std::unique_lock, std::scoped_lock).
/// @concurrent any thread, any process. Threads of the holder's process are not owners:
/// a second acquire from the holder's process blocks like any other.
class SHMBUS_EXPORT Lock {
public:
    /// How often a parked acquirer checks whether the holder still lives: the recovery latency
    /// after a holder's death. A probe reads /proc (~10 us), so it is not done more often.
    static constexpr std::chrono::milliseconds kOwnerProbePeriod{20};

    /// An anonymous Lock in Segment::default_segment(), inherited by forked children.
    Lock();
    /// Opens the Lock `name` in `segment`, creating it when missing.
    Lock(const Segment& segment, std::string_view name);
    /// AlreadyExists when the name is taken.
    static Lock create(const Segment& segment, std::string_view name);
    /// NotFound when missing; KindMismatch when `name` is not a Lock.
    static Lock open(const Segment& segment, std::string_view name);

    /// Never blocks and never probes the holder.
    [[nodiscard]] AcquireResult try_acquire();
    /// Waits at most `timeout`; a negative timeout tries once.
    template <class Rep, class Period>
    [[nodiscard]] AcquireResult acquire_for(std::chrono::duration<Rep, Period> timeout) {
        return acquire_by(detail::Deadline::after(timeout));
    }
    /// Waits until `deadline`; a deadline in the past tries once.
    template <class Clock, class Duration>
    [[nodiscard]] AcquireResult acquire_until(std::chrono::time_point<Clock, Duration> deadline) {
        return acquire_by(detail::Deadline::at(deadline));
    }
    /// Blocks until acquired; owner_died tells that the previous holder died holding it.
    AcquireResult acquire();
    /// UsageError when the Lock is not held. Any process may release it.
    void release();
    /// @concurrent result may be stale.
    bool locked() const;

    /// Lockable: acquire(), without the owner_died report.
    void lock() { acquire(); }
    /// Lockable: try_acquire(); true when acquired.
    [[nodiscard]] bool try_lock() { return try_acquire().acquired; }
    /// Lockable: release().
    void unlock() { release(); }

    /// Process-local: applies to waits made through this handle.
    void set_wait_options(const WaitOptions& options) { m_options = options; }
    /// How waits through this handle wait.
    const WaitOptions& wait_options() const { return m_options; }

private:
    friend class Condition;
    Lock(const Segment& segment, std::string_view name, detail::OpenMode mode);
    explicit Lock(detail::ObjectRef object) : m_object(std::move(object)) {}
    AcquireResult acquire_by(detail::Deadline deadline);
    /// True when this process holds it (Python's Condition requires the lock held).
    bool held_by_this_process() const;

    detail::ObjectRef m_object;
    WaitOptions m_options;
};

/// A recursive lock owned by one thread of one process; only the owner may release it.
/// Satisfies Lockable. WaitOptions: spin / hybrid retry a try-lock for the spin phase before
/// blocking in the kernel; block goes to the kernel at once.
/// @concurrent any thread, any process.
class SHMBUS_EXPORT RLock {
public:
    /// An anonymous RLock in Segment::default_segment(), inherited by forked children.
    RLock();
    /// Opens the RLock `name` in `segment`, creating it when missing.
    RLock(const Segment& segment, std::string_view name);
    /// AlreadyExists when the name is taken.
    static RLock create(const Segment& segment, std::string_view name);
    /// NotFound when missing; KindMismatch when `name` is not an RLock.
    static RLock open(const Segment& segment, std::string_view name);

    /// Never blocks. Succeeds at once (recursion level + 1) when the caller owns it.
    [[nodiscard]] AcquireResult try_acquire();
    /// Waits at most `timeout`; a negative timeout tries once.
    template <class Rep, class Period>
    [[nodiscard]] AcquireResult acquire_for(std::chrono::duration<Rep, Period> timeout) {
        return acquire_by(detail::Deadline::after(timeout));
    }
    /// Waits until `deadline`; a deadline in the past tries once.
    template <class Clock, class Duration>
    [[nodiscard]] AcquireResult acquire_until(std::chrono::time_point<Clock, Duration> deadline) {
        return acquire_by(detail::Deadline::at(deadline));
    }
    /// Blocks until acquired; owner_died tells that the previous owner (a thread or process)
    /// died holding it.
    AcquireResult acquire();
    /// Drops one recursion level. UsageError when it is not held, or held by another thread
    /// or process.
    void release();
    /// Whether any thread of any process holds it (Python 3.14's RLock.locked()). One that
    /// died holding it reads as locked until the next acquire takes it over.
    /// @concurrent result may be stale.
    bool locked() const;

    /// Lockable: acquire(), without the owner_died report.
    void lock() { acquire(); }
    /// Lockable: try_acquire(); true when acquired.
    [[nodiscard]] bool try_lock() { return try_acquire().acquired; }
    /// Lockable: release().
    void unlock() { release(); }

    /// Process-local: applies to waits made through this handle.
    void set_wait_options(const WaitOptions& options) { m_options = options; }
    /// How waits through this handle wait.
    const WaitOptions& wait_options() const { return m_options; }

private:
    friend class Condition;
    RLock(const Segment& segment, std::string_view name, detail::OpenMode mode);
    explicit RLock(detail::ObjectRef object) : m_object(std::move(object)) {}
    AcquireResult acquire_by(detail::Deadline deadline);
    bool owned_by_caller() const;
    /// Releases every recursion level and returns how many there were (UsageError when the
    /// caller is not the owner); restore() takes the lock back at that level.
    std::uint32_t release_save();
    void restore(std::uint32_t saved);

    detail::ObjectRef m_object;
    WaitOptions m_options;
};

/// The lock type of a Value or Array made without a lock (Python's `lock=False`): RawValue,
/// RawArray.
struct NoLock {};

} // namespace shmbus
