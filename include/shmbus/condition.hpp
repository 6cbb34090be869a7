// SPDX-License-Identifier: Apache-2.0
/// @file
/// Condition: Python's multiprocessing.Condition, a condition variable shared across processes,
/// over its own RLock or over a Lock or RLock of the same segment.
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/export.hpp"
#include "shmbus/lock.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/wait.hpp"

#include <chrono>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

namespace shmbus {

/// The locks a Condition may be made over.
template <class L>
concept ConditionLock = std::same_as<L, Lock> || std::same_as<L, RLock>;

/// wait() releases the lock (every recursion level of an RLock), sleeps until notified, and
/// takes the lock back. Waits may end spuriously: every notify ends the waits of processes still
/// spinning, so notify(n) wakes at most n *parked* waiters but possibly more waiters in all.
/// Loop on a predicate (the wait(pred) forms do). wait, notify and notify_all require the lock
/// held by the caller (an RLock: this thread; a Lock: this process), else UsageError.
/// @concurrent any thread, any process.
class SHMBUS_EXPORT Condition {
public:
    /// An anonymous Condition with its own RLock, in Segment::default_segment().
    Condition();
    /// An anonymous Condition over `lock`, in the lock's segment.
    template <ConditionLock L>
    explicit Condition(const L& lock)
        : Condition(lock.m_object.segment(), "", detail::OpenMode::create, AnyLock(lock)) {}
    /// Opens the Condition `name` in `segment`, creating it with its own RLock when missing.
    Condition(const Segment& segment, std::string_view name);
    /// Opens or creates `name` over `lock`, which must live in `segment`. KindMismatch when
    /// `name` exists over another lock.
    template <ConditionLock L>
    Condition(const Segment& segment, std::string_view name, const L& lock)
        : Condition(segment, name, detail::OpenMode::open_or_create, AnyLock(lock)) {}
    /// A new Condition `name` with its own RLock; AlreadyExists when the name is taken.
    static Condition create(const Segment& segment, std::string_view name);
    /// A new Condition `name` over `lock`, which must live in `segment`; AlreadyExists when the
    /// name is taken.
    template <ConditionLock L>
    static Condition create(const Segment& segment, std::string_view name, const L& lock) {
        return Condition(segment, name, detail::OpenMode::create, AnyLock(lock));
    }
    /// Opens `name`, with whatever lock it was created over.
    static Condition open(const Segment& segment, std::string_view name);

    /// Lock::try_acquire() or RLock::try_acquire() of the underlying lock; never blocks.
    [[nodiscard]] AcquireResult try_acquire();
    /// Acquires the underlying lock, waiting at most `timeout`.
    template <class Rep, class Period>
    [[nodiscard]] AcquireResult acquire_for(std::chrono::duration<Rep, Period> timeout) {
        return acquire_by(detail::Deadline::after(timeout));
    }
    /// Acquires the underlying lock, waiting until `deadline`.
    template <class Clock, class Duration>
    [[nodiscard]] AcquireResult acquire_until(std::chrono::time_point<Clock, Duration> deadline) {
        return acquire_by(detail::Deadline::at(deadline));
    }
    /// Acquires the underlying lock; blocks until it is held.
    AcquireResult acquire();
    /// Releases the underlying lock (one recursion level of an RLock).
    void release();
    /// Lockable: acquire(), without the owner_died report.
    void lock() { acquire(); }
    /// Lockable: try_acquire(); true when acquired.
    [[nodiscard]] bool try_lock() { return try_acquire().acquired; }
    /// Lockable: release().
    void unlock() { release(); }

    /// Sleeps until notified (or spuriously woken).
    void wait();
    /// False when `timeout` passed without a notify.
    template <class Rep, class Period>
    [[nodiscard]] bool wait_for(std::chrono::duration<Rep, Period> timeout) {
        return wait_by(detail::Deadline::after(timeout));
    }
    /// False when `deadline` passed without a notify.
    template <class Clock, class Duration>
    [[nodiscard]] bool wait_until(std::chrono::time_point<Clock, Duration> deadline) {
        return wait_by(detail::Deadline::at(deadline));
    }
    /// Waits until pred() holds (evaluated with the lock held).
    template <class Predicate>
    void wait(Predicate pred) {
        while (!pred())
            wait();
    }
    /// Returns pred() when it holds or the time is up, like Python's wait_for.
    template <class Rep, class Period, class Predicate>
    [[nodiscard]] bool wait_for(std::chrono::duration<Rep, Period> timeout, Predicate pred) {
        return wait_pred_by(detail::Deadline::after(timeout), pred);
    }
    /// Returns pred() when it holds or `deadline` has passed.
    template <class Clock, class Duration, class Predicate>
    [[nodiscard]] bool wait_until(std::chrono::time_point<Clock, Duration> deadline,
                                  Predicate pred) {
        return wait_pred_by(detail::Deadline::at(deadline), pred);
    }

    /// Wakes at most `n` parked waiters (and every waiter still spinning).
    void notify(unsigned n = 1);
    /// Wakes every waiter.
    void notify_all();

    /// Process-local: applies to wait() through this handle; acquiring waits as the lock it
    /// was made over does.
    void set_wait_options(const WaitOptions& options) { m_options = options; }
    /// How waits through this handle wait.
    const WaitOptions& wait_options() const { return m_options; }

private:
    using AnyLock = std::variant<Lock, RLock>;

    Condition(const Segment& segment, std::string_view name, detail::OpenMode mode,
              const std::optional<AnyLock>& lock);
    static detail::ObjectRef attach(const Segment& segment, std::string_view name,
                                    detail::OpenMode mode, const std::optional<AnyLock>& lock);
    static AnyLock lock_of(const detail::ObjectRef& condition, const std::optional<AnyLock>& given);
    static const detail::ObjectRef& object_of(const AnyLock& lock);
    AcquireResult acquire_by(detail::Deadline deadline);
    bool wait_by(detail::Deadline deadline);
    template <class Predicate>
    bool wait_pred_by(detail::Deadline deadline, Predicate& pred) {
        while (!pred())
            if (!wait_by(deadline))
                return pred();
        return true;
    }
    void check_owned(const char* what) const;
    std::uint32_t release_lock();
    void restore_lock(std::uint32_t saved);

    detail::ObjectRef m_object;
    AnyLock m_lock;
    WaitOptions m_options;
};

} // namespace shmbus
