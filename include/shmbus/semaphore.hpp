// SPDX-License-Identifier: Apache-2.0
/// @file
/// Semaphore and BoundedSemaphore: Python's multiprocessing.Semaphore and BoundedSemaphore, a
/// counting semaphore on a futex word shared by every process that maps the segment.
/// acquire() spins briefly, then parks; release() makes no syscall when nobody is parked
/// (docs/design/parking.md).
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/detail/wait_target.hpp"
#include "shmbus/export.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/wait.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>

namespace shmbus {

/// A counter that acquire() decrements, waiting while it is 0, and release() increments.
/// Satisfies Lockable (acquire / release one unit). Opening an existing semaphore ignores
/// `value`, as opening one by name in Python has no value either.
/// @concurrent any thread, any process.
class SHMBUS_EXPORT Semaphore {
public:
    /// SEM_VALUE_MAX: the largest value; a larger initial value or a release above it is a
    /// UsageError.
    static constexpr unsigned kMaxValue = 0x7fff'ffff;

    /// An anonymous Semaphore in Segment::default_segment().
    explicit Semaphore(unsigned value = 1);
    /// Opens the Semaphore `name` in `segment`, creating it with `value` when missing.
    Semaphore(const Segment& segment, std::string_view name, unsigned value = 1);
    /// A new Semaphore `name` holding `value`; AlreadyExists when the name is taken.
    static Semaphore create(const Segment& segment, std::string_view name, unsigned value = 1);
    /// NotFound when missing; KindMismatch when `name` is not a Semaphore.
    static Semaphore open(const Segment& segment, std::string_view name);

    /// Never blocks.
    [[nodiscard]] bool try_acquire();
    /// Waits at most `timeout`; a negative timeout tries once.
    template <class Rep, class Period>
    [[nodiscard]] bool acquire_for(std::chrono::duration<Rep, Period> timeout) {
        return acquire_by(detail::Deadline::after(timeout));
    }
    /// Waits until `deadline`; a deadline in the past tries once.
    template <class Clock, class Duration>
    [[nodiscard]] bool acquire_until(std::chrono::time_point<Clock, Duration> deadline) {
        return acquire_by(detail::Deadline::at(deadline));
    }
    /// Blocks until a unit is available; returns true, like Python.
    bool acquire();
    /// Adds `n` units and wakes up to `n` waiters. UsageError when n is 0 or the value would
    /// pass the bound (kMaxValue, or the initial value of a BoundedSemaphore); the value is
    /// then unchanged.
    void release(unsigned n = 1);
    /// @concurrent result may be stale.
    unsigned get_value() const;

    /// Lockable: acquire().
    void lock() { acquire(); }
    /// Lockable: try_acquire().
    [[nodiscard]] bool try_lock() { return try_acquire(); }
    /// Lockable: release() of one unit.
    void unlock() { release(); }

    /// How shmbus::wait (multi_wait.hpp) waits until the value is above 0, without acquiring.
    detail::WaitTarget wait_target() const;

    /// Process-local: applies to waits made through this handle.
    void set_wait_options(const WaitOptions& options) { m_options = options; }
    /// How waits through this handle wait.
    const WaitOptions& wait_options() const { return m_options; }

protected:
    /// For BoundedSemaphore: `kind` is semaphore or bounded_semaphore.
    Semaphore(const Segment& segment, std::string_view name, unsigned value, ObjectKind kind,
              detail::OpenMode mode);

private:
    bool acquire_by(detail::Deadline deadline);

    detail::ObjectRef m_object;
    WaitOptions m_options;
};

/// A Semaphore whose release() above its initial value is a UsageError: the value never
/// exceeds it. A distinct kind in the segment (opening one as the other is KindMismatch).
class SHMBUS_EXPORT BoundedSemaphore : public Semaphore {
public:
    /// An anonymous BoundedSemaphore in Segment::default_segment(); `value` is also its bound.
    explicit BoundedSemaphore(unsigned value = 1);
    /// Opens the BoundedSemaphore `name` in `segment`, creating it with `value` when missing.
    BoundedSemaphore(const Segment& segment, std::string_view name, unsigned value = 1);
    /// A new BoundedSemaphore `name`; AlreadyExists when the name is taken.
    static BoundedSemaphore create(const Segment& segment, std::string_view name,
                                   unsigned value = 1);
    /// NotFound when missing; KindMismatch when `name` is not a BoundedSemaphore.
    static BoundedSemaphore open(const Segment& segment, std::string_view name);

private:
    BoundedSemaphore(const Segment& segment, std::string_view name, unsigned value,
                     detail::OpenMode mode);
};

} // namespace shmbus
